/// <reference types="node" />
// Collaborative text (ytext fields) in the client, against a real server
// (`ankurah serve` on the embedded store): Y.Texts of two clients typing at
// once, at the same position too, converge without losing a character;
// one of them offline (a TCP proxy that cuts the connection); remote
// keystrokes reach a Y.Text as incremental changes; an edit the server
// refuses is rolled back by making the document again.
import net from 'node:net';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client.js';
import { defineModel } from '../src/model.js';
import { onTextReplaced, smallestEdit, textOf } from '../src/text.js';
import { until } from './fake-server.js';
import { serve, type Served } from './serve.js';

interface NoteValues {
  title: string;
  body: string;
}
const Note = defineModel<NoteValues>('note', { title: { type: 'text' }, body: { type: 'ytext' } });

let served: Served;
beforeAll(async () => {
  served = await serve();
}, 300_000);
afterAll(() => served?.stop());

/** A TCP proxy to the server whose connections can be cut and refused. */
function proxy(target: string): Promise<{ url: string; block(): void; unblock(): void; close(): void }> {
  const [host, port] = target.replace('ws://', '').replace('/ws', '').split(':');
  const socks = new Set<net.Socket>();
  let blocked = false;
  const srv = net.createServer((c) => {
    if (blocked) return void c.destroy();
    const up = net.connect(Number(port), host!);
    socks.add(c).add(up);
    c.pipe(up).pipe(c);
    const end = (): void => {
      c.destroy();
      up.destroy();
      socks.delete(c);
      socks.delete(up);
    };
    c.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as net.AddressInfo;
      resolve({
        url: `ws://127.0.0.1:${p}/ws`,
        block() {
          blocked = true;
          for (const s of socks) s.destroy();
        },
        unblock() {
          blocked = false;
        },
        close() {
          for (const s of socks) s.destroy();
          srv.close();
        },
      });
    }),
  );
}

describe('smallestEdit', () => {
  it.each([
    ['abc', 'abc', [3, 0, '']],
    ['hello world', 'hello, world', [5, 0, ',']],
    ['abc', '', [0, 3, '']],
    ['a😀b', 'a😁b', [1, 2, '😁']], // the pairs differ in their low halves: the whole character is replaced
    ['😀x', '😀', [2, 1, '']],
    ['x😀', '😀', [0, 1, '']],
  ] as [string, string, [number, number, string]][])('%j → %j', (a, b, want) => {
    expect(smallestEdit(a, b)).toEqual(want);
  });
});

describe('ytext against ankurah serve', () => {
  it('two clients type at once, at the same position too, one of them offline; nothing is lost', async () => {
    const p = await proxy(served.url);
    const a = new Client({ url: served.url, clientName: 'text-a' });
    const b = new Client({ url: p.url, clientName: 'text-b', backoff: { initialMs: 10, maxMs: 50 } });
    try {
      // A creates the note with a text (the smallest edit of a new document).
      const created = await a.create(Note, { title: 'n', body: 'Hello world' });
      const qa = a.query(Note);
      const qb = b.query(Note);
      const offA = qa.subscribe(() => {});
      const offB = qb.subscribe(() => {});
      await until(() => qa.rows.length === 1 && qb.rows.length === 1 && qb.rows[0]!.body === 'Hello world', 20_000);
      const ta = textOf(a, Note, created.id, 'body');
      const tb = textOf(b, Note, qb.rows[0]!, 'body');
      await until(() => tb.toString() === 'Hello world', 20_000);

      // Incremental: B's Y.Text sees A's keystrokes as insertions, not as the text replaced.
      const deltas: unknown[] = [];
      tb.observe((ev) => {
        if (ev.transaction.origin !== null) deltas.push(ev.delta);
      });
      // Both type at position 5 at once.
      for (const ch of ', dear') ta.insert(5 + ', dear'.indexOf(ch), ch);
      tb.insert(5, ' there');
      expect(qa.rows[0]!.body).toBe('Hello, dear world'); // shown at once (optimistic)
      await until(() => ta.toString() === tb.toString() && ta.length === 'Hello, dear there world'.length, 20_000);
      expect(ta.toString()).toContain(', dear');
      expect(ta.toString()).toContain(' there');
      expect(deltas.length).toBeGreaterThanOrEqual(', dear'.length);
      for (const d of deltas) expect(JSON.stringify(d)).not.toContain('"delete"');
      await until(() => qa.rows[0]!.body === ta.toString() && qb.rows[0]!.body === ta.toString(), 20_000).catch((e: Error) => {
        throw new Error(`${e.message}: A's row ${JSON.stringify(qa.rows[0]!.body)}, B's row ${JSON.stringify(qb.rows[0]!.body)}, A's text ${JSON.stringify(ta.toString())}, B's text ${JSON.stringify(tb.toString())}`);
      });

      // B offline: it types; A types; B comes back.
      p.block();
      await until(() => b.state.get().status !== 'connected', 20_000);
      tb.insert(0, '[b] ');
      tb.delete(tb.length - 5, 1);
      ta.insert(ta.length, ' (a) 😀');
      expect(qb.rows[0]!.body.startsWith('[b] ')).toBe(true);
      p.unblock();
      await until(() => ta.toString() === tb.toString() && ta.toString().startsWith('[b] ') && ta.toString().endsWith(' (a) 😀'), 20_000);
      // A third client reads what the server holds.
      const c = new Client({ url: served.url, clientName: 'text-c' });
      try {
        const [v] = await c.get(Note, [created.id]);
        expect(v!.body).toBe(ta.toString());
      } finally {
        c.close();
      }
      offA();
      offB();
    } finally {
      a.close();
      b.close();
      p.close();
    }
  }, 90_000);

  it('an edit the server refuses is rolled back: the document is made again', async () => {
    const a = new Client({ url: served.url, clientName: 'text-r' });
    try {
      const created = await a.create(Note, { title: 'r', body: 'abc' });
      const off = a.query(Note, 'id = ?', [created.id]).subscribe(() => {});
      const t = textOf(a, Note, created.id, 'body');
      await until(() => t.toString() === 'abc', 20_000);
      const replaced: Y.Text[] = [];
      onTextReplaced(a, Note, created.id, 'body', (nt) => replaced.push(nt));
      // An update that builds on content the note never had.
      const other = new Y.Doc();
      other.getText('text').insert(0, 'xyz');
      let dangling: Uint8Array | null = null;
      other.on('update', (u: Uint8Array) => (dangling = u));
      other.getText('text').insert(3, '!');
      const tx = a.begin();
      tx.applyTextUpdate(Note, created.id, 'body', Buffer.from(dangling!).toString('base64'));
      await expect(tx.commit()).rejects.toMatchObject({ code: 'invalid_event' });
      expect(replaced).toHaveLength(1);
      expect(replaced[0]!.toString()).toBe('abc');
      expect(textOf(a, Note, created.id, 'body')).toBe(replaced[0]);
      // The new document is live.
      replaced[0]!.insert(3, 'd');
      await until(() => a.peek(Note, created.id)?.body === 'abcd', 20_000);
      off();
    } finally {
      a.close();
    }
  }, 60_000);
});
