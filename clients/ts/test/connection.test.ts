// Connection health: a clear error where no connection can ever be made,
// the address in every connection error, and the client's own keepalive.
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/client.js';
import { AnkurahError } from '../src/errors.js';
import { FakeServer, until } from './fake-server.js';
import { Album } from './models.js';

let clients: Client[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('connection health', () => {
  it('fails at once, with code no_websocket, where there is no WebSocket and none is passed', () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket; // Node 20 has none; Node 22 does
    try {
      const err = thrown(() => new Client({ url: 'ws://127.0.0.1:9797/ws' }));
      expect(err).toBeInstanceOf(AnkurahError);
      expect(err).toMatchObject({ code: 'no_websocket' });
      expect((err as Error).message).toContain('webSocket option');
    } finally {
      if (saved !== undefined) g.WebSocket = saved;
    }
  });

  it('refuses an address that is not ws:// or wss:// with code bad_url', () => {
    const server = new FakeServer();
    for (const url of ['http://127.0.0.1:9797/ws', 'not a url', '']) {
      expect(thrown(() => new Client({ url, webSocket: server.factory }))).toMatchObject({ code: 'bad_url' });
    }
  });

  it('names the address in the error of a failed attempt (connect_failed), and keeps retrying', async () => {
    const server = new FakeServer();
    server.down = true;
    const client = new Client({ url: 'ws://unreachable.example:9797/ws', webSocket: server.factory, backoff: { initialMs: 5, maxMs: 10 } });
    clients.push(client);
    await until(() => client.state.get().attempt >= 2);
    const s = client.state.get();
    expect(s).toMatchObject({ status: 'connecting', url: 'ws://unreachable.example:9797/ws', error: { code: 'connect_failed' } });
    expect(s.error!.message).toContain('ws://unreachable.example:9797/ws');
    server.down = false;
    await until(() => client.state.get().status === 'connected');
  });

  it('detects a connection that went silent with its own keepalive, and reconnects', async () => {
    const server = new FakeServer();
    server.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint']]));
    const client = new Client({ url: 'ws://fake/ws', webSocket: server.factory, backoff: { initialMs: 5, maxMs: 10 }, keepalive: { intervalMs: 20, timeoutMs: 20 } });
    clients.push(client);
    await until(() => client.state.get().status === 'connected');
    // While the server answers, pings keep the connection: wait until a few
    // have been answered on the same socket.
    const first = server.socket;
    await until(() => first.sent.filter((f) => f.type === 'ping').length >= 3);
    expect(client.state.get().status).toBe('connected');
    expect(server.socket).toBe(first);
    // The peer goes silent without closing: only the keepalive can tell.
    server.silent = true;
    await until(() => client.state.get().error?.code === 'keepalive_timeout');
    expect(client.state.get().status).toBe('reconnecting');
    expect(client.state.get().error!.message).toContain('ws://fake/ws');
    server.silent = false;
    await until(() => client.state.get().status === 'connected');
    expect(server.socket).not.toBe(first);
    // Requests flow on the new session.
    await expect(client.fetch(Album, '')).resolves.toEqual([]);
  });

  it('surfaces slow_consumer (the error frame and 4001, or 4001 alone), reconnects, and ignores answers with "id": null', async () => {
    const server = new FakeServer();
    server.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint']]));
    const client = new Client({ url: 'ws://fake/ws', webSocket: server.factory, backoff: { initialMs: 5, maxMs: 10 } });
    clients.push(client);
    await until(() => client.state.get().status === 'connected');
    // An answer to a frame without a valid id is none of this client's
    // requests: it changes nothing.
    server.socket.deliver({ type: 'error', id: null, error: { code: 'bad_request', message: 'member "id" must be an integer from 1 to 2^53-1' } });
    await expect(client.fetch(Album, '')).resolves.toEqual([]);
    expect(client.state.get().status).toBe('connected');
    expect(client.state.get().error).toBeFalsy();
    // Every error the connection's state shows, as it shows them (the
    // client reconnects at once, which clears it).
    const errors: string[] = [];
    const stop = client.state.subscribe((st) => {
      if (st.error && errors[errors.length - 1] !== st.error.message) errors.push(st.error.message);
    });
    const current = (): unknown => {
      try {
        return server.socket;
      } catch {
        return null; // between two connections
      }
    };
    // The server cuts a slow consumer: error frame, then 4001.
    let first = server.socket;
    server.end(first, 4001, { code: 'slow_consumer', message: 'the client fell behind: a frame waited 10.2s in its queue' });
    await until(() => client.state.get().status === 'connected' && current() !== first && current() !== null);
    expect(errors.some((m) => m.includes('fell behind: a frame waited'))).toBe(true);
    // Only the close got through (the error frame did not fit in time).
    first = server.socket;
    first.close(4001, 'slow_consumer');
    await until(() => client.state.get().status === 'connected' && current() !== first && current() !== null);
    expect(errors.some((m) => m.includes('falling behind (4001'))).toBe(true);
    stop();
    await expect(client.fetch(Album, '')).resolves.toEqual([]);
  });
});
