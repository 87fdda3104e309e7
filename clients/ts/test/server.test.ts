/// <reference types="node" />
// The client against a real server: `ankurah serve` on the embedded store
// (the binary from ANKURAH_BIN, as `make ts-test` sets it, or built here
// with `go build`), over a real WebSocket. It checks what a fake server
// cannot prove: a live query and a fetch on a collection that does not
// exist yet are empty and live, and the write that creates the collection
// (here by the CLI, with a client that registers no schema) arrives.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client.js';
import { until } from './fake-server.js';
import { Album, names } from './models.js';
import { serve, type Served } from './serve.js';

let served: Served;
let url = '';
let bin = '';

beforeAll(async () => {
  served = await serve();
  ({ url, bin } = served);
}, 300_000);

afterAll(() => served?.stop());

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
