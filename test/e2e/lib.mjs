// Helpers shared by the browser tests (albums.mjs, auth.mjs, inspect.mjs).
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export /** Retries fn until it returns a truthy value; fails after ms with what it last saw. */
async function until(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(100);
  }
}

/** A TCP port free on loopback now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The environment variable name, which test/e2e/run.sh sets. */
export function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run test/e2e/run.sh)`);
  return v;
}
