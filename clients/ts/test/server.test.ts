/// <reference types="node" />
// The client against a real server: `ankurah serve` on the embedded store
// (the binary from ANKURAH_BIN, as `make ts-test` sets it, or built here
// with `go build`), over a real WebSocket. It checks what a fake server
// cannot prove: a live query and a fetch on a collection that does not
// exist yet are empty and live, and the write that creates the collection
// (here by the CLI, with a client that registers no schema) arrives.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client.js';
import { until } from './fake-server.js';
import { Album, names } from './models.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = mkdtempSync(path.join(tmpdir(), 'ankts-'));
let bin = process.env.ANKURAH_BIN ?? '';
let server: ChildProcess | null = null;
let url = '';
let log = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  if (!bin) {
    bin = path.join(dir, 'ankurah');
    execFileSync('go', ['build', '-o', bin, './cmd/ankurah'], { cwd: root, stdio: 'inherit' });
  }
  const port = await freePort();
  url = `ws://127.0.0.1:${port}/ws`;
  server = spawn(bin, ['serve', '--data-dir', path.join(dir, 'data'), '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
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
}, 300_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('against ankurah serve', () => {
  it('a collection that does not exist yet is empty and live, and its first write arrives', async () => {
    const client = new Client({ url, registerSchema: false, clientName: 'ts-test' });
    try {
      expect(await client.fetch(Album, 'year >= ?', [2000])).toEqual([]);
      const lq = client.query(Album, 'year >= ? ORDER BY year', [2000]);
      const off = lq.subscribe(() => {});
      await until(() => lq.get().status === 'live', 20_000);
      expect(lq.get().rows).toEqual([]);
      expect(lq.get().error).toBeNull();

      execFileSync(bin, ['put', '--url', url, 'album', '{"name":"Origin of Symmetry","year":2001}'], { stdio: 'pipe' });
      await until(() => names(lq.get().rows) === 'Origin of Symmetry', 20_000);
      expect(lq.get().rows[0]?.year).toBe(2001);
      off();
    } finally {
      client.close();
    }
  }, 60_000);
});
