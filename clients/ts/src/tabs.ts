/**
 * Tabs of one origin sharing one durable store (docs/web.md, "Several
 * tabs"). Each tab holds a Web Lock named after itself for as long as it
 * lives; a commit in the shared outbox names the tab that sends it. Other
 * tabs show it at once (a BroadcastChannel message) and wait for that tab's
 * lock: the browser grants it when the tab is gone (closed, reloaded,
 * crashed), and the one tab that gets it takes the entries over and sends
 * them. So every commit has exactly one sender at a time.
 *
 * Without Web Locks (very old browsers), a tab takes over the entries it
 * finds when it opens; without BroadcastChannel, tabs see each other's
 * commits when the server sends them.
 */
import type { EntityId, WireEntity, WireEvent } from './protocol.js';

export type TabMessage =
  | { readonly t: 'pending'; readonly key: string; readonly owner: string; readonly events: readonly WireEvent[] }
  | { readonly t: 'settled'; readonly key: string; readonly accepted: boolean; readonly entities: readonly WireEntity[] };

interface Locks {
  request(name: string, opts: { signal?: AbortSignal }, cb: () => Promise<unknown>): Promise<unknown>;
}

export class Tabs {
  #channel: BroadcastChannel | null;
  readonly #locks: Locks | undefined;
  readonly #watching = new Set<string>();
  readonly #abort = new AbortController();
  #release: (() => void) | undefined;
  /** Resolves once this tab holds its own lock (at once without Web Locks). */
  readonly ready: Promise<void>;

  readonly #name: string;
  readonly #id: EntityId;
  readonly #adopt: (owner: string) => Promise<void>;

  constructor(name: string, id: EntityId, onMessage: (m: TabMessage) => void, adopt: (owner: string) => Promise<void>) {
    this.#name = name;
    this.#id = id;
    this.#adopt = adopt;
    const BC = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
    this.#channel = BC ? new BC(name) : null;
    if (this.#channel) this.#channel.onmessage = (ev: MessageEvent<TabMessage>) => onMessage(ev.data);
    this.#locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
    this.ready = this.#locks
      ? new Promise<void>((granted) => {
          this.#locks!.request(this.#lock(id), { signal: this.#abort.signal }, () => {
            granted();
            return new Promise<void>((r) => (this.#release = r));
          }).catch(() => {});
        })
      : Promise.resolve();
  }

  #lock(tab: string): string {
    return `${this.#name} tab ${tab}`;
  }

  post(m: TabMessage): void {
    this.#channel?.postMessage(m);
  }

  /** Takes over owner's commits once owner is gone (at once without Web Locks). */
  watch(owner: string): void {
    if (owner === this.#id || this.#watching.has(owner)) return;
    this.#watching.add(owner);
    if (!this.#locks) {
      void this.#adopt(owner);
      return;
    }
    this.#locks
      .request(this.#lock(owner), { signal: this.#abort.signal }, async () => {
        this.#watching.delete(owner);
        await this.#adopt(owner);
      })
      .catch(() => {}); // aborted by close()
  }

  close(): void {
    this.#abort.abort();
    this.#release?.();
    this.#channel?.close();
    this.#channel = null;
  }
}
