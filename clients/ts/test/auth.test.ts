// Tokens against the fake server: the token option as a function, called
// before every connection attempt and on token_expiring (then sent with
// auth on the same connection); the server's refusals (unauthenticated,
// token_expired) in the client's state with their codes; a live query the
// server ends. auth.server.test.ts does the same against ankurah serve.
import { afterEach, describe, expect, it } from 'vitest';
import { isAuthError } from '../src/auth.js';
import { Client, type ClientOptions } from '../src/client.js';
import type { ConnectionState } from '../src/connection.js';
import { AnkurahError } from '../src/errors.js';
import { FakeServer, settle, until } from './fake-server.js';
import { Album, names } from './models.js';

let clients: Client[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});

function setup(opts: Partial<ClientOptions> = {}) {
  const server = new FakeServer();
  server.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint'], ['rating', 'double precision']]));
  const client = new Client({ url: 'ws://fake/ws', webSocket: server.factory, backoff: { initialMs: 5, maxMs: 10 }, ...opts });
  clients.push(client);
  return { server, client };
}

/** Every state the client goes through, from now on. */
function record(client: Client): ConnectionState[] {
  const seen: ConnectionState[] = [];
  client.state.subscribe((s) => void seen.push(s));
  return seen;
}

const hellos = (server: FakeServer) => server.history.map((s) => s.sent.find((f) => f.type === 'hello')).filter((f) => f !== undefined);

/** Accepts the tokens "alice-N" for alice; refuses everything else. */
function alicesServer(server: FakeServer): void {
  server.auth = (tok) =>
    tok?.startsWith('alice-') ? { subject: 'alice', expires_at: `2030-01-01T00:00:0${tok.slice(6)}Z` } : { error: { code: 'unauthenticated', message: `token ${JSON.stringify(tok)} does not verify` } };
}

describe('the token option', () => {
  it('as a function is called before every connection attempt, and hello carries what it returned', async () => {
    let n = 0;
    const { server, client } = setup({ token: () => Promise.resolve(`alice-${++n}`) });
    alicesServer(server);
    await until(() => client.state.get().status === 'connected');
    expect(client.state.get().welcome).toMatchObject({ subject: 'alice', expires_at: '2030-01-01T00:00:01Z' });
    server.dropAll();
    await until(() => client.state.get().status === 'reconnecting');
    await until(() => client.state.get().status === 'connected');
    expect(hellos(server).map((h) => h.token)).toEqual(['alice-1', 'alice-2']);
    expect(client.state.get().welcome?.expires_at).toBe('2030-01-01T00:00:02Z');
  });

  it('as a string is sent as it is; with none, hello has no token', async () => {
    const { server, client } = setup({ token: 'fixed' });
    await until(() => client.state.get().status === 'connected');
    const { server: s2, client: c2 } = setup();
    await until(() => c2.state.get().status === 'connected');
    expect(hellos(server)[0]?.token).toBe('fixed');
    expect(hellos(s2)[0]).not.toHaveProperty('token');
  });

  it('a function that throws, rejects or hangs fails that attempt with token_failed (an AnkurahError keeps its code), and the next attempt asks again', async () => {
    const answers: (() => string | Promise<string>)[] = [
      () => {
        throw new Error('no session cookie');
      },
      () => Promise.reject(new AnkurahError('signed_out', 'nobody is signed in')),
      () => new Promise<string>(() => {}), // never answers
      () => 'alice-1',
    ];
    let n = 0;
    const { server, client } = setup({ token: () => answers[n++]!(), handshakeTimeoutMs: 50 });
    alicesServer(server);
    const seen = record(client);
    await until(() => client.state.get().status === 'connected');
    const errors = seen.filter((s) => s.error).map((s) => [s.error!.code, s.error!.message]);
    expect(errors).toEqual([
      ['token_failed', 'the token provider failed: no session cookie'],
      ['signed_out', 'nobody is signed in'],
      ['token_failed', 'the token provider did not answer within 50 ms'],
    ]);
    expect(n).toBe(4);
    // No socket was opened for the failed attempts.
    expect(hellos(server).map((h) => h.token)).toEqual(['alice-1']);
  });
});

describe("the server's refusals", () => {
  it('a refused handshake shows the server\'s code (unauthenticated), not connect_failed; once the function has a good token the client connects', async () => {
    let token = 'mallory';
    const { server, client } = setup({ token: () => token });
    alicesServer(server);
    await until(() => client.state.get().attempt >= 2);
    const s = client.state.get();
    expect(s.status).toBe('connecting');
    expect(s.error).toBeInstanceOf(AnkurahError);
    expect(s.error).toMatchObject({ code: 'unauthenticated', message: 'ws://fake/ws: token "mallory" does not verify' });
    expect(isAuthError(s.error)).toBe(true);
    token = 'alice-1';
    await until(() => client.state.get().status === 'connected');
    expect(client.state.get().error).toBeUndefined();
    expect(client.state.get().welcome?.subject).toBe('alice');
  });

  it('token_expiring: a new token goes in auth on the same connection, and the live query carries on', async () => {
    let n = 0;
    const { server, client } = setup({ token: () => `alice-${++n}` });
    alicesServer(server);
    const lq = client.query(Album, 'year >= 2000 ORDER BY year');
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'live');
    const socket = server.socket;
    const seen = record(client);
    socket.deliver({ type: 'token_expiring', expires_at: '2030-01-01T00:00:01Z' });
    await until(() => client.state.get().welcome?.expires_at === '2030-01-01T00:00:02Z');
    expect(socket.sent.filter((f) => f.type === 'auth').map((f) => f.token)).toEqual(['alice-2']);
    expect(socket.sent.filter((f) => f.type === 'subscribe')).toHaveLength(1);
    expect(server.socket).toBe(socket);
    expect(server.history).toHaveLength(1);
    expect(seen.map((s) => s.status)).toEqual(['connected']); // the new welcome, and nothing else
    server.sql('album', { name: 'Drones', year: 2015 });
    await until(() => names(lq.get().rows) === 'Drones');
  });

  it('a refused refresh shows in the state while the session stays open; reauthenticate() rejects with it', async () => {
    let token = 'alice-1';
    const { server, client } = setup({ token: () => token });
    alicesServer(server);
    await until(() => client.state.get().status === 'connected');
    token = 'bob-1';
    await expect(client.connection.reauthenticate()).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(client.state.get()).toMatchObject({ status: 'connected', error: { code: 'unauthenticated' }, welcome: { subject: 'alice' } });
    token = 'alice-3';
    await client.connection.reauthenticate();
    expect(client.state.get().error).toBeUndefined();
    expect(client.state.get().welcome?.expires_at).toBe('2030-01-01T00:00:03Z');
  });

  it('a token that is not renewed: nothing is sent on token_expiring; the session ends with token_expired, in the state; the next attempt asks again', async () => {
    let token = 'alice-1';
    const { server, client } = setup({ token: () => token });
    alicesServer(server);
    await until(() => client.state.get().status === 'connected');
    const socket = server.socket;
    socket.deliver({ type: 'token_expiring', expires_at: '2030-01-01T00:00:01Z' });
    await settle();
    expect(socket.sent.filter((f) => f.type === 'auth')).toEqual([]); // the same token: nothing new to send
    server.auth = () => ({ error: { code: 'token_expired', message: 'the token has expired' } });
    server.end(socket, 4003, { code: 'token_expired', message: "the connection's token expired without a refresh" });
    await until(() => client.state.get().status === 'reconnecting');
    expect(client.state.get().error).toMatchObject({ code: 'token_expired', message: "ws://fake/ws: the connection's token expired without a refresh" });
    await until(() => client.state.get().attempt >= 2);
    expect(client.state.get().error?.code).toBe('token_expired'); // the handshake refuses it too
    alicesServer(server);
    token = 'alice-2';
    await until(() => client.state.get().status === 'connected');
    expect(hellos(server).at(-1)?.token).toBe('alice-2');
  });

  it('a fixed token: nothing is sent on token_expiring', async () => {
    const { server, client } = setup({ token: 'alice-1' });
    alicesServer(server);
    await until(() => client.state.get().status === 'connected');
    server.socket.deliver({ type: 'token_expiring', expires_at: '2030-01-01T00:00:01Z' });
    await settle();
    await client.connection.reauthenticate();
    expect(server.socket.sent.filter((f) => f.type === 'auth')).toEqual([]);
  });

  it('reauthenticate() while waiting to retry (after a sign-in) tries at once', async () => {
    let token = 'expired';
    const { server, client } = setup({ token: () => token, backoff: { initialMs: 600_000, maxMs: 600_000 } });
    alicesServer(server);
    await until(() => client.state.get().error?.code === 'unauthenticated' && client.state.get().retryAt !== undefined);
    expect(client.state.get().retryAt! - Date.now()).toBeGreaterThan(60_000); // nothing else would retry within the test
    token = 'alice-1';
    await client.connection.reauthenticate();
    await until(() => client.state.get().status === 'connected');
    expect(server.history).toHaveLength(2);
  });

  it('a live query the server ends (permission_denied) is in error with that code; the connection is not', async () => {
    const { server, client } = setup();
    const lq = client.query(Album, 'year >= 2000');
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'live');
    const sub = server.socket.sent.find((f) => f.type === 'subscribe')!.sub as string;
    server.socket.deliver({ type: 'error', sub, error: { code: 'permission_denied', message: 'you may no longer read album' } });
    await until(() => lq.get().status === 'error');
    expect(lq.get().error).toMatchObject({ code: 'permission_denied', message: 'you may no longer read album' });
    expect(client.state.get()).toMatchObject({ status: 'connected' });
    expect(client.state.get().error).toBeUndefined();
    // The next session subscribes again.
    server.dropAll();
    await until(() => lq.get().status === 'live');
  });
});
