/// <reference types="node" />
// `ankurah serve` on the embedded store for tests against a real server:
// the binary from ANKURAH_BIN (as `make ts-test` sets it), or built here
// with `go build`, on a free loopback port, stopped by stop().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Served {
  readonly url: string;
  readonly bin: string;
  /** What the server printed. */
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function serve(): Promise<Served> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = mkdtempSync(path.join(tmpdir(), 'ankts-'));
  let bin = process.env.ANKURAH_BIN ?? '';
  if (!bin) {
    bin = path.join(dir, 'ankurah');
    execFileSync('go', ['build', '-o', bin, './cmd/ankurah'], { cwd: root, stdio: 'inherit' });
  }
  const port = await freePort();
  let log = '';
  const server: ChildProcess = spawn(bin, ['serve', '--data-dir', path.join(dir, 'data'), '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    bin,
    log: () => log,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
