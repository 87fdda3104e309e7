// The client against the in-memory fake server: handshake and requests,
// live queries and their change sets, optimistic commits and rollbacks,
// reconnection with resubscription by known heads.
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/client.js';
import { AnkurahError } from '../src/errors.js';
import type { ChangeSet } from '../src/livequery.js';
import { isPending, metaOf } from '../src/view.js';
import { FakeServer, settle, until } from './fake-server.js';
import { Album, names, type AlbumValues } from './models.js';

let clients: Client[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});

function setup(seed: [string, number][] = [], echoMs = 5000) {
  const server = new FakeServer();
  server.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint'], ['rating', 'double precision']]));
  for (const [name, year] of seed) server.sql('album', { name, year });
  const client = new Client({ url: 'ws://fake/ws', webSocket: server.factory, token: 'jwt', clientName: 'test/1', backoff: { initialMs: 5, maxMs: 20 }, echoMs });
  clients.push(client);
  return { server, client };
}

describe('protocol', () => {
  it('says hello first, registers the schema, then subscribes with fresh request ids', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album, 'year >= ?', [1990]);
    const off = lq.subscribe(() => {});
    await until(() => lq.get().status === 'live');
    const sent = server.socket.sent;
    expect(sent[0]).toEqual({ type: 'hello', protocol: 1, token: 'jwt', client: 'test/1' });
    expect(sent[1]).toMatchObject({ type: 'register_schema', collections: [{ name: 'album', fields: [{ name: 'name', type: 'text' }, { name: 'year', type: 'bigint' }, { name: 'rating', type: 'double precision' }] }] });
    expect(sent[2]).toMatchObject({ type: 'subscribe', collection: 'album', query: 'year >= ?', args: [1990] });
    const ids = sent.slice(1).map((f) => f.id!);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((i) => Number.isInteger(i) && i > 0)).toBe(true);
    expect(client.state.get()).toMatchObject({ status: 'connected', attempt: 0, welcome: { server: 'fake/0' } });
    off();
  });

  it('turns error frames into AnkurahError with the code, and answers each request once', async () => {
    const { client } = setup();
    const err = await client.fetch(Album, 'year >', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnkurahError);
    expect(err).toMatchObject({ code: 'parse_error' });
    // Requests after an error still work.
    await expect(client.fetch(Album, '')).resolves.toEqual([]);
  });

  it('shows a refused query as the live query error', async () => {
    const { client } = setup();
    const lq = client.query(Album, 'year >= ?', []); // wrong number of arguments
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'error');
    expect(lq.get().error).toMatchObject({ code: 'bad_argument' });
  });
});

describe('live queries', () => {
  it('keeps query order and reports initial, add, update and remove', async () => {
    const { server, client } = setup([['Origin of Symmetry', 2001], ['Showbiz', 1999], ['Absolution', 2003]]);
    const sets: ChangeSet<AlbumValues>[] = [];
    const lq = client.query(Album, 'year >= ? ORDER BY year DESC', [2000]);
    lq.onChange((cs) => sets.push(cs));
    await until(() => sets.length === 1);
    expect(names(lq.rows)).toBe('Absolution, Origin of Symmetry');
    expect(sets[0]!.changes.map((c) => c.kind)).toEqual(['initial', 'initial']);

    const id = server.sql('album', { name: 'Black Holes', year: 2006 });
    await until(() => sets.length === 2);
    expect(names(lq.rows)).toBe('Black Holes, Absolution, Origin of Symmetry');
    expect(sets[1]!.changes).toMatchObject([{ kind: 'add', view: { name: 'Black Holes', year: 2006 } }]);

    server.sql('album', { name: 'Black Holes and Revelations' }, id);
    await until(() => sets.length === 3);
    expect(sets[2]!.changes).toMatchObject([{ kind: 'update', view: { name: 'Black Holes and Revelations' } }]);

    server.sql('album', { year: 1990 }, id);
    await until(() => sets.length === 4);
    expect(sets[3]!.changes).toMatchObject([{ kind: 'remove', view: { id } }]);
    expect(names(lq.rows)).toBe('Absolution, Origin of Symmetry');
  });

  it('unsubscribes when nobody watches and drops the entities it held', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album);
    const off = lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    expect(client.store.size).toBe(1);
    off();
    await until(() => server.socket.sent.some((f) => f.type === 'unsubscribe'));
    expect(client.store.size).toBe(0);
    expect(lq.get().status).toBe('idle');
  });

  it('moves to a new query with known heads (update)', async () => {
    const { server, client } = setup([['Showbiz', 1999], ['Origin of Symmetry', 2001]]);
    const lq = client.query(Album, 'year >= ?', [1990]);
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 2);
    lq.update('year >= ?', [2000]);
    await until(() => lq.rows.length === 1);
    const sub = server.socket.sent.filter((f) => f.type === 'subscribe').at(-1)!;
    expect(Object.keys(sub.known as object)).toHaveLength(2);
    expect(names(lq.rows)).toBe('Origin of Symmetry');
  });

  it("reads an entity's history, oldest first", async () => {
    const { server, client } = setup();
    const id = server.sql('album', { name: 'Showbiz', year: 1999 });
    server.sql('album', { year: 2000 }, id);
    const events = await client.history(Album, id);
    expect(events.map((e) => e.operations)).toEqual([{ name: 'Showbiz', year: 1999 }, { year: 2000 }]);
    expect(events[1]!.parents).toEqual([events[0]!.id]);
  });

  it('decodes typed values: NULL of a nullable field is null, of another its zero value', async () => {
    const { server, client } = setup();
    server.sql('album', { name: 'Untitled' });
    const [v] = await client.fetch(Album);
    expect(v).toEqual({ id: v!.id, name: 'Untitled', year: 0, rating: null });
    expect(Object.isFrozen(v)).toBe(true);
  });
});

describe('transactions and optimistic updates', () => {
  it('shows a commit at once, then the confirmed state, without flicker', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album, 'ORDER BY year');
    const seen: string[] = [];
    lq.subscribe((s) => seen.push(names(s.rows)));
    await until(() => lq.get().status === 'live');
    server.holdChanges = true;
    const done = client.create(Album, { name: 'Drones', year: 2015 });
    // Visible synchronously, marked pending.
    expect(names(lq.rows)).toBe('Showbiz, Drones');
    expect(isPending(lq.rows[1]!)).toBe(true);
    const view = await done;
    expect(view).toMatchObject({ name: 'Drones', year: 2015 });
    expect(names(lq.rows)).toBe('Showbiz, Drones'); // still there while the echo is held back
    expect(isPending(lq.rows[1]!)).toBe(false);
    server.releaseChanges();
    await settle();
    expect(names(lq.rows)).toBe('Showbiz, Drones');
    expect(seen.every((s) => s === 'Showbiz' || s === 'Showbiz, Drones' || s === '')).toBe(true);
    expect(server.entities.get(view.id)?.values).toEqual({ name: 'Drones', year: 2015 });
  });

  it('rolls a refused commit back and rejects with the server code', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album);
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'live');
    server.failCommits = 'type_mismatch';
    const p = client.update(Album, lq.rows[0]!, { name: 'Showbiz (remastered)' });
    expect(lq.rows[0]!.name).toBe('Showbiz (remastered)');
    await expect(p).rejects.toMatchObject({ code: 'type_mismatch' });
    expect(lq.rows[0]!.name).toBe('Showbiz');
  });

  it('moves an edited entity out of the result before the server answers', async () => {
    const { server, client } = setup([['Showbiz', 1999], ['Origin of Symmetry', 2001]]);
    const lq = client.query(Album, 'year >= 2000');
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    server.holdChanges = true;
    const p = client.update(Album, lq.rows[0]!, { year: 1998 });
    expect(lq.rows).toHaveLength(0);
    await p;
    expect(lq.rows).toHaveLength(0);
    server.releaseChanges();
    await settle();
    expect(lq.rows).toHaveLength(0);
  });

  it("lets the server's answer win over the local evaluation", async () => {
    const { server, client } = setup([['Showbiz', 1999], ['Origin of Symmetry', 2001]], 50);
    const lq = client.query(Album, 'year >= 2000 ORDER BY year');
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    // The server disagrees with the client: it will never count this one in.
    const tx = client.begin();
    const m = tx.create(Album, { name: 'Hidden', year: 2010 });
    server.hide.add(m.id);
    const p = tx.commit();
    expect(names(lq.rows)).toBe('Origin of Symmetry, Hidden'); // the local guess
    await p;
    await until(() => names(lq.rows) === 'Origin of Symmetry'); // no echo came: the server's set stands
    // And the other way round: locally out, but the server keeps it in.
    const origin = lq.rows[0]!;
    server.force.add(origin.id);
    const q = client.update(Album, origin, { year: 1990 });
    expect(lq.rows).toHaveLength(0); // the local guess
    await q;
    await until(() => lq.rows.length === 1); // the server's `update` item decides
    expect(lq.rows[0]).toMatchObject({ id: origin.id, year: 1990 });
  });

  it('respects LIMIT windows for local changes', async () => {
    const { client } = setup([['A', 2001], ['B', 2002]]);
    const lq = client.query(Album, 'ORDER BY year LIMIT 2');
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 2);
    const z = client.create(Album, { name: 'Z', year: 2030 });
    expect(names(lq.rows)).toBe('A, B'); // beyond the window
    const early = client.create(Album, { name: 'Early', year: 1990 });
    expect(names(lq.rows)).toBe('Early, A');
    await Promise.all([z, early]);
    await settle();
    expect(names(lq.rows)).toBe('Early, A');
  });

  it('makes events whose ids exceed their parents, with the head as parents', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const [v] = await client.fetch(Album);
    const lq = client.query(Album);
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    const head = metaOf(lq.rows[0]!).head;
    expect(head).toEqual(metaOf(v!).head);
    const tx = client.begin();
    const m = tx.edit(Album, lq.rows[0]!);
    m.year = 2000;
    m.rating = 4.5;
    expect(tx.edit(Album, v!.id)).toBe(m); // one mutable per entity
    await tx.commit();
    const commit = server.socket.sent.find((f) => f.type === 'commit')!;
    const [e] = commit.events as { id: string; parents: string[]; operations: object }[];
    expect(e!.parents).toEqual(head);
    expect(e!.id > head[0]!).toBe(true);
    expect(e!.operations).toEqual({ year: 2000, rating: 4.5 });
  });

  it('chains local edits: the second builds on the first before either is answered', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album);
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    const a = client.update(Album, lq.rows[0]!, { year: 2000 });
    const b = client.update(Album, lq.rows[0]!, { year: 2001 });
    await Promise.all([a, b]);
    const [c1, c2] = server.socket.sent.filter((f) => f.type === 'commit') as unknown as { events: { id: string; parents: string[] }[] }[];
    expect(c2!.events[0]!.parents).toEqual([c1!.events[0]!.id]);
    await until(() => lq.rows[0]!.year === 2001);
  });

  it('deletes with a tombstone and skips create-then-delete', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album);
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    const tx = client.begin();
    const tmp = tx.create(Album, { name: 'tmp' });
    tx.delete(Album, tmp.id);
    tx.delete(Album, lq.rows[0]!);
    const p = tx.commit();
    expect(lq.rows).toHaveLength(0);
    await p;
    const commit = server.socket.sent.find((f) => f.type === 'commit')!;
    expect(commit.events).toMatchObject([{ delete: true, operations: {} }]);
    expect(() => tx.create(Album)).toThrow(/already committed/);
  });

  it('refuses values of the wrong type before sending', () => {
    const { client } = setup();
    const tx = client.begin();
    expect(() => tx.create(Album, { year: 1.5 })).toThrow(AnkurahError);
    expect(() => tx.create(Album, { name: 7 as unknown as string })).toThrow(/cannot hold/);
  });
});

describe('reconnection', () => {
  it('reconnects with backoff and resubscribes with known heads', async () => {
    const { server, client } = setup([['Showbiz', 1999], ['Origin of Symmetry', 2001], ['Absolution', 2003]]);
    const lq = client.query(Album, 'ORDER BY year');
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 3);
    const [showbiz, origin, absolution] = lq.rows;
    server.down = true;
    server.dropAll();
    await until(() => client.state.get().status === 'reconnecting');
    // Changes while the client is away: an update, a delete, an insert.
    server.sql('album', { year: 2002 }, origin!.id);
    server.apply_delete(absolution!.id);
    server.sql('album', { name: 'Drones', year: 2015 });
    await until(() => client.state.get().attempt >= 2);
    server.down = false;
    await until(() => client.state.get().status === 'connected');
    await until(() => names(lq.rows) === 'Showbiz, Origin of Symmetry, Drones');
    const resub = server.socket.sent.find((f) => f.type === 'subscribe')!;
    expect(Object.keys(resub.known as object).sort()).toEqual([showbiz!.id, origin!.id, absolution!.id].sort());
    expect(lq.rows[0]).toBe(showbiz); // unchanged: the same view object
    expect(lq.rows[1]!.year).toBe(2002);
  });

  it('keeps a commit made while offline visible and sends it after reconnecting', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album, 'ORDER BY year');
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    server.down = true;
    server.dropAll();
    await until(() => client.state.get().status === 'reconnecting');
    const p = client.create(Album, { name: 'Offline', year: 2020 });
    expect(names(lq.rows)).toBe('Showbiz, Offline');
    server.down = false;
    const v = await p;
    expect(server.entities.get(v.id)?.values.name).toBe('Offline');
    await until(() => !isPending(lq.rows[1]!));
  });

  it('resends a commit whose answer was lost; the server skips what it stored', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    await client.fetch(Album);
    server.holdChanges = true;
    const origReceive = server.receive.bind(server);
    let dropped = false;
    server.receive = (s, f) => {
      if (f.type === 'commit' && !dropped) {
        dropped = true;
        origReceive(s, f); // stored, but the answer is lost with the connection
        server.dropAll();
        return;
      }
      origReceive(s, f);
    };
    const v = await client.create(Album, { name: 'Twice', year: 2000 });
    expect([...server.entities.values()].filter((e) => e.values.name === 'Twice')).toHaveLength(1);
    expect(v.name).toBe('Twice');
  });

  it('waits longer after each failure, with jitter, up to the maximum', async () => {
    const server = new FakeServer();
    server.down = true;
    const client = new Client({ url: 'ws://fake/ws', webSocket: server.factory, backoff: { initialMs: 10, maxMs: 40 }, random: () => 0.999 });
    clients.push(client);
    const waits: number[] = [];
    client.state.subscribe((s) => s.retryAt && waits.push(s.retryAt - Date.now()));
    await until(() => waits.length >= 4, 3000);
    // Equal jitter: between half and all of 10, 20, 40, 40 ms.
    expect(waits[0]).toBeGreaterThanOrEqual(4);
    expect(waits[0]).toBeLessThanOrEqual(10);
    expect(waits[1]).toBeGreaterThan(waits[0]!);
    expect(waits[3]).toBeLessThanOrEqual(40);
    expect(client.state.get().status).toBe('connecting'); // never connected yet
  });

  it('fails everything with code closed after close()', async () => {
    const { client } = setup();
    client.close();
    await expect(client.fetch(Album)).rejects.toMatchObject({ code: 'closed' });
    expect(client.state.get().status).toBe('closed');
  });
});

describe('merging concurrent edits', () => {
  it('sends only the fields that changed, so an unchanged field never overrides a concurrent edit', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album);
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    await client.update(Album, lq.rows[0]!, { name: 'Showbiz', year: 2000 });
    const commit = server.socket.sent.find((f) => f.type === 'commit')!;
    expect((commit.events as { operations: object }[])[0]!.operations).toEqual({ year: 2000 });
    // Nothing changed at all: no commit is sent.
    await client.update(Album, lq.rows[0]!, { year: 2000 });
    expect(server.socket.sent.filter((f) => f.type === 'commit')).toHaveLength(1);
  });

  it('edits from the version a view shows: a form opened before a concurrent change does not revert it', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const lq = client.query(Album);
    lq.subscribe(() => {});
    await until(() => lq.rows.length === 1);
    const opened = lq.rows[0]!; // a form opens with this version
    server.sql('album', { year: 2000 }, opened.id); // someone else changes the year
    await until(() => lq.rows[0]!.year === 2000);
    await client.update(Album, opened, { name: 'Showbiz (remastered)', year: opened.year });
    const commit = server.socket.sent.find((f) => f.type === 'commit')!;
    expect(commit.events).toMatchObject([{ parents: metaOf(opened).head, operations: { name: 'Showbiz (remastered)' } }]);
    await until(() => lq.rows[0]!.name === 'Showbiz (remastered)');
    expect(lq.rows[0]!.year).toBe(2000);
  });
});

describe('schema changes', () => {
  it('hears schema frames and ends a live query the server ended with schema_changed', async () => {
    const { server, client } = setup([['Showbiz', 1999]]);
    const heard: unknown[] = [];
    const off = client.onSchemaChange((change, collection) => heard.push({ change, collection }));
    const lq = client.query(Album, 'year >= ?', [1990]);
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'live');
    const sub = server.socket.sent.find((f) => f.type === 'subscribe')!.sub as string;
    const change = { id: '01M8Y7EPD5XMP5XP596B9SD9PA', collection: 'album', kind: 'rename_field', field: 'released', old_name: 'year' };
    const collection = { name: 'album', fields: [{ name: 'name', type: 'text' }, { name: 'released', type: 'bigint' }] };
    server.socket.deliver({ type: 'error', sub, error: { code: 'schema_changed', message: 'field year of collection album is now called released' } });
    server.socket.deliver({ type: 'schema', change, collection });
    await until(() => heard.length === 1);
    expect(heard[0]).toEqual({ change, collection });
    expect(client.serverSchema('album')).toEqual(collection);
    expect(lq.get().status).toBe('error');
    expect(lq.get().error).toMatchObject({ code: 'schema_changed' });
    expect(lq.get().rows.map((v) => v.name)).toEqual(['Showbiz']); // what it held stays
    expect(client.state.get().status).toBe('connected'); // the session goes on
    server.socket.deliver({ type: 'schema', change: { id: '01M8Y7EPD5XMP5XP596B9SD9PB', collection: 'album', kind: 'drop_table' } });
    await until(() => heard.length === 2);
    expect(client.serverSchema('album')).toBeNull();
    off();
  });
});
