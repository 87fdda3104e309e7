/// <reference types="node" />
// Tokens against a real server: `ankurah serve` on the embedded store with an
// HS256 secret and a policy (users read and write their own notes; admins do
// anything), tokens minted by `ankurah token` — the binary from ANKURAH_BIN,
// as `make ts-test` sets it, or built here. The clock skew is 1 ms, so that
// tokens of a few seconds expire when they say.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type ClientOptions } from '../src/client.js';
import type { ConnectionState } from '../src/connection.js';
import { AnkurahError } from '../src/errors.js';
import { defineModel } from '../src/model.js';
import { until } from './fake-server.js';

const Note = defineModel<{ title: string; owner: string }>('note', { title: { type: 'text' }, owner: { type: 'text' } });

const policy = {
  default_role: 'user',
  roles: {
    user: { collections: { note: { read: 'owner = $jwt.sub', write: 'owner = $jwt.sub' } } },
    admin: { schema: true, collections: { '*': { read: 'true', write: 'true' } } },
  },
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = mkdtempSync(path.join(tmpdir(), 'ankts-auth-'));
const secretFile = path.join(dir, 'secret');
const otherSecretFile = path.join(dir, 'other-secret');
let bin = process.env.ANKURAH_BIN ?? '';
let server: ChildProcess | null = null;
let url = '';
let log = '';
const clients: Client[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A token from `ankurah token`, signed with the server's secret (or another). */
function mint(sub: string, role: string, ttl = '1h', secret = secretFile): string {
  return execFileSync(bin, ['token', '--jwt-secret-file', secret, '--sub', sub, '--role', role, '--ttl', ttl], { encoding: 'utf8' }).trim();
}

function connect(opts: Partial<ClientOptions>): Client {
  const c = new Client({ url, clientName: 'ts-auth-test', backoff: { initialMs: 20, maxMs: 200 }, ...opts });
  clients.push(c);
  return c;
}

const connected = (c: Client) => until(() => c.state.get().status === 'connected', 20_000);

beforeAll(async () => {
  if (!bin) {
    bin = path.join(dir, 'ankurah');
    execFileSync('go', ['build', '-o', bin, './cmd/ankurah'], { cwd: root, stdio: 'inherit' });
  }
  writeFileSync(secretFile, 'ts-auth-test-secret-ts-auth-test-secret-0123456789\n');
  writeFileSync(otherSecretFile, 'another-secret-another-secret-another-secret-0123\n');
  writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(policy));
  const port = await freePort();
  url = `ws://127.0.0.1:${port}/ws`;
  server = spawn(
    bin,
    ['serve', '--data-dir', path.join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--jwt-secret-file', secretFile, '--policy', path.join(dir, 'policy.json'), '--jwt-clock-skew', '1ms'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const end = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`ankurah serve exited:\n${log}`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    if (res?.ok) break;
    if (Date.now() > end) throw new Error(`ankurah serve never became ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // The admin creates the collection (users may not change the schema) and a note for each user.
  const admin = connect({ token: mint('root', 'admin') });
  await admin.create(Note, { title: "alice's first", owner: 'alice' });
  await admin.create(Note, { title: "bob's first", owner: 'bob' });
}, 300_000);

afterAll(async () => {
  for (const c of clients) c.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

const titles = (rows: readonly { title: string }[]) => rows.map((r) => r.title).sort().join(', ');

describe('tokens against ankurah serve', () => {
  it('no token, or one signed with another secret: unauthenticated in the state, never connected', async () => {
    for (const token of [undefined, mint('alice', 'user', '1h', otherSecretFile)]) {
      const c = connect(token === undefined ? {} : { token });
      await until(() => c.state.get().attempt >= 2, 20_000);
      const s = c.state.get();
      expect(s.status).toBe('connecting');
      expect(s.error).toBeInstanceOf(AnkurahError);
      expect(s.error!.code).toBe('unauthenticated');
      expect(s.error!.message).toContain(url);
      c.close();
    }
  }, 60_000);

  it("alice's session acts for her: welcome names her, she reads her notes only, a write for bob is permission_denied and nothing is written, her events carry her name", async () => {
    const alice = connect({ token: () => mint('alice', 'user') });
    await connected(alice);
    const w = alice.state.get().welcome!;
    expect(w.subject).toBe('alice');
    expect(Date.parse(w.expires_at!)).toBeGreaterThan(Date.now());
    expect(titles(await alice.fetch(Note))).toBe("alice's first");
    const lq = alice.query(Note, 'ORDER BY title');
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'live', 20_000);
    expect(titles(lq.get().rows)).toBe("alice's first");

    const refused = await alice.create(Note, { title: 'forged', owner: 'bob' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AnkurahError);
    expect((refused as AnkurahError).code).toBe('permission_denied');
    const admin = connect({ token: mint('root', 'admin') });
    expect((await admin.fetch(Note, 'title = ?', ['forged'])).length).toBe(0);

    const mine = await alice.create(Note, { title: "alice's second", owner: 'alice' });
    const history = await alice.history(Note, mine.id);
    expect(history.map((e) => e.author)).toEqual(['alice']);
    await until(() => titles(lq.get().rows) === "alice's first, alice's second", 20_000);
  }, 60_000);

  it('a token function refreshes the token on token_expiring, on the same connection: the live query goes on after the first token expired', async () => {
    const expiries: number[] = [];
    const alice = connect({
      token: () => {
        const t = mint('alice', 'user', '5s');
        expiries.push(JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).exp * 1000);
        return t;
      },
    });
    await connected(alice);
    const session = alice.state.get().welcome!.session;
    const states: ConnectionState[] = [];
    alice.state.subscribe((s) => void states.push(s));
    const lq = alice.query(Note, "title LIKE 'refresh%'");
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'live', 20_000);
    // The server asks for a new token a fifth of its life before it expires;
    // the welcome in the state then says when the new one does (exp + the
    // server's clock skew, 1 ms).
    await until(() => expiries.length >= 2 && Date.parse(alice.state.get().welcome!.expires_at!) >= expiries[1]!, 20_000);
    await until(() => Date.now() > expiries[0]! + 100, 20_000);
    const admin = connect({ token: mint('root', 'admin') });
    await admin.create(Note, { title: 'refresh: after the first token expired', owner: 'alice' });
    await until(() => titles(lq.get().rows) === 'refresh: after the first token expired', 20_000);
    expect(states.every((s) => s.status === 'connected' && s.welcome?.session === session)).toBe(true);
    expect(lq.get().status).toBe('live');
  }, 60_000);

  it('a token that is not renewed ends the session with token_expired, in the state; after a sign-in the client connects again and the live query resumes', async () => {
    let token = mint('alice', 'user', '2s');
    const alice = connect({ token: () => token });
    await connected(alice);
    const lq = alice.query(Note, "title = 'resume'");
    lq.subscribe(() => {});
    await until(() => lq.get().status === 'live', 20_000);
    await until(() => alice.state.get().status === 'reconnecting' && alice.state.get().error?.code === 'token_expired', 20_000);
    expect(alice.state.get().status).toBe('reconnecting');
    expect(alice.state.get().error!.message).toContain(url);
    // Signed in again: the next attempt starts at once and uses the new token.
    token = mint('alice', 'user');
    await alice.connection.reauthenticate();
    await connected(alice);
    const admin = connect({ token: mint('root', 'admin') });
    await admin.create(Note, { title: 'resume', owner: 'alice' });
    await until(() => lq.get().rows.length === 1 && lq.get().status === 'live', 20_000);
  }, 60_000);
});
