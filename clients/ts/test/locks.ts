// The part of the Web Locks API the client uses (exclusive locks, granted
// in request order, released when the callback's promise settles; an
// aborted request is dropped), for unit tests on Node, which has none.
// The browser's own implementation is exercised by the e2e test.
type Waiter = { cb: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void };

export class TestLocks {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Waiter[]>();

  request(name: string, opts: { signal?: AbortSignal }, cb: () => Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const w: Waiter = { cb, resolve, reject };
      const q = this.queues.get(name) ?? [];
      this.queues.set(name, q);
      q.push(w);
      opts.signal?.addEventListener('abort', () => {
        const i = q.indexOf(w);
        if (i >= 0) {
          q.splice(i, 1);
          reject(new DOMException('aborted', 'AbortError'));
        }
      });
      this.grant(name);
    });
  }

  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  private grant(name: string): void {
    if (this.held.has(name)) return;
    const w = this.queues.get(name)?.shift();
    if (!w) return;
    this.held.add(name);
    Promise.resolve()
      .then(w.cb)
      .then(w.resolve, w.reject)
      .finally(() => {
        this.held.delete(name);
        this.grant(name);
      });
  }
}
