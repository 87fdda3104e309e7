/**
 * Live queries: a subscription's result set, kept current by the server's
 * changes frames and, for local transactions the server has not answered
 * yet, by evaluating the query locally.
 *
 * Membership has two sources. The server decides for every entity it has
 * sent (`serverIds`). The client decides for entities with pending local
 * events and, after its commit is confirmed, until the server's own change
 * for the entity arrives on this subscription (or ECHO_MS pass) — so a
 * commit appears at once, never flickers out between the commit's answer
 * and its echo, and the server's answer always has the last word.
 */
import type { AnkurahError } from './errors.js';
import type { Connection } from './connection.js';
import type { Model, View } from './model.js';
import { argsToWire, type ChangeItem, type EntityId, type JsonValue, type QueryArg, type SubscribeResult } from './protocol.js';
import { compile, type Matcher } from './query/eval.js';
import { checkQuery, type CheckedQuery } from './querycheck.js';
import { recordOf } from './record.js';
import type { ReadSignal } from './signal.js';
import type { EntityState, EntityStore, StoreChange } from './store.js';
import { viewOf } from './view.js';

/** How long (by default) a confirmed local change stays locally decided while waiting for its echo. */
export const ECHO_MS = 5000;

export type LiveQueryStatus =
  /** Nobody watches it: no subscription. */
  | 'idle'
  /** Subscribed (or waiting for a connection); the first result has not arrived. */
  | 'loading'
  /** The rows are the last result kept in the durable store: the server has not confirmed them yet. */
  | 'cached'
  /** The result set is current. */
  | 'live'
  /** The server refused the query; see error. */
  | 'error';

export interface LiveQuerySnapshot<V extends object> {
  readonly rows: readonly View<V>[];
  readonly status: LiveQueryStatus;
  readonly error: AnkurahError | null;
}

/** One change to a live query's result set. */
export interface Change<V extends object> {
  /** `initial` for the members of the first result; then add / update / remove. */
  readonly kind: 'initial' | 'add' | 'update' | 'remove';
  readonly view: View<V>;
}

export interface ChangeSet<V extends object> {
  readonly rows: readonly View<V>[];
  readonly changes: readonly Change<V>[];
}

/** What a live query needs from its client. */
export interface LiveQueryHost {
  readonly store: EntityStore;
  readonly connection: Connection;
  /** How long a confirmed local change waits for its echo (ECHO_MS). */
  readonly echoMs: number;
  /** The current session's number, or 0 when there is none. */
  session(): number;
  /** Calls cb once the model's schema is registered on the current session. */
  whenSchema(model: Model<object>, cb: (err: AnkurahError | null) => void): void;
  /** Routes the subscription's changes to the live query (undefined: stop). */
  route(sub: string, lq: LiveQuery<object> | undefined): void;
  nextSubName(): string;
  activate(lq: LiveQuery<object>): void;
  deactivate(lq: LiveQuery<object>): void;
  /** The durable store's copy of live query results, if there is one. */
  readonly cache: {
    /** Loads the members last confirmed for a query (and their states into the store). */
    load(key: string): Promise<EntityId[] | undefined>;
    save(key: string, ids: readonly EntityId[]): void;
  } | null;
}

export class LiveQuery<V extends object> implements ReadSignal<LiveQuerySnapshot<V>> {
  #queryText: string;
  #wireArgs: JsonValue[];
  #matcher: Matcher | null = null;
  #sub = '';
  #subscribedIn = 0;
  #received = false;
  readonly #serverIds = new Set<EntityId>();
  readonly #echo = new Map<EntityId, number>();
  #echoTimer: ReturnType<typeof setTimeout> | undefined;
  #held = new Set<EntityId>();
  #snapshot: LiveQuerySnapshot<V> = { rows: [], status: 'idle', error: null };
  /** The next emit reports the rows as `initial` (the first result after subscribing). */
  #initialDue = false;
  #byId = new Map<EntityId, View<V>>();
  #dirty = false;
  readonly #listeners = new Set<(s: LiveQuerySnapshot<V>) => void>();
  readonly #changeListeners = new Set<(cs: ChangeSet<V>) => void>();
  #offStore: (() => void) | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #active = false;
  /** Reading the durable cache: subscribing waits for it, so that `known` includes what it holds. */
  #loadingCache = 0;
  #membersChanged = false;

  readonly #host: LiveQueryHost;

  constructor(
    host: LiveQueryHost,
    readonly model: Model<V>,
    query: string,
    args: readonly QueryArg[],
  ) {
    this.#host = host;
    this.#queryText = query;
    this.#wireArgs = argsToWire(args);
    this.#matcher = this.#compileLocal(query, this.#wireArgs);
  }

  /** The query text and arguments it runs. */
  get query(): { readonly text: string; readonly args: readonly JsonValue[] } {
    return { text: this.#queryText, args: this.#wireArgs };
  }

  get(): LiveQuerySnapshot<V> {
    return this.#snapshot;
  }

  peek(): LiveQuerySnapshot<V> {
    return this.#snapshot;
  }

  /** The current rows, in query order. */
  get rows(): readonly View<V>[] {
    return this.#snapshot.rows;
  }

  /** Watches the snapshot; the subscription lives while anyone watches. */
  subscribe(fn: (s: LiveQuerySnapshot<V>) => void): () => void {
    return this.#watch(this.#listeners, fn);
  }

  /** Watches change sets (initial / add / update / remove). */
  onChange(fn: (cs: ChangeSet<V>) => void): () => void {
    return this.#watch(this.#changeListeners, fn);
  }

  /** Changes the query; the entities already held are declared `known`, so the server resends only what differs. */
  update<Q extends string>(query: CheckedQuery<Q, V>, args: readonly QueryArg[] = []): void {
    const wire = argsToWire(args);
    if (query === this.#queryText && JSON.stringify(wire) === JSON.stringify(this.#wireArgs)) return;
    const matcher = this.#compileLocal(query, wire);
    this.#queryText = query;
    this.#wireArgs = wire;
    this.#matcher = matcher;
    if (!this.#active) return;
    this.#endSubscription();
    this.#setSnapshot({ ...this.#snapshot, status: 'loading', error: null });
    this.#begin();
  }

  /** Ends the subscription now, whoever still watches. */
  close(): void {
    this.#listeners.clear();
    this.#changeListeners.clear();
    clearTimeout(this.#idleTimer);
    this.#deactivate();
  }

  #watch<F>(set: Set<F>, fn: F): () => void {
    set.add(fn);
    clearTimeout(this.#idleTimer);
    if (!this.#active) this.#activate();
    return () => {
      set.delete(fn);
      if (this.#listeners.size + this.#changeListeners.size > 0) return;
      // Wait a moment: React (StrictMode, re-renders) unsubscribes and
      // subscribes again at once, which should not cost a round trip.
      clearTimeout(this.#idleTimer);
      this.#idleTimer = setTimeout(() => this.#deactivate(), 0);
    };
  }

  /** The local matcher; throws `unknown_field` for a field the model lacks. */
  #compileLocal(text: string, args: JsonValue[]): Matcher | null {
    const q = checkQuery(this.model as Model<object>, text);
    try {
      return q && compile(q, args);
    } catch {
      return null; // the server will say what is wrong
    }
  }

  #activate(): void {
    this.#active = true;
    this.#offStore = this.#host.store.onChange((c) => this.#onStoreChange(c));
    this.#host.activate(this as LiveQuery<object>);
    this.#setSnapshot({ ...this.#snapshot, status: 'loading' });
    this.#begin();
  }

  get #cacheKey(): string {
    return `${this.model.collection}\n${this.#queryText}\n${JSON.stringify(this.#wireArgs)}`;
  }

  /** Shows the cached result, if any and if nothing newer came first, then subscribes. */
  #begin(): void {
    const cache = this.#host.cache;
    if (!cache) return this.startSubscription();
    const token = ++this.#loadingCache;
    const key = this.#cacheKey;
    const go = (ids: EntityId[] | undefined): void => {
      if (token !== this.#loadingCache || !this.#active) return;
      this.#loadingCache = 0;
      if (ids && this.#snapshot.status === 'loading') {
        this.#serverIds.clear();
        for (const id of ids) this.#serverIds.add(id);
        this.#initialDue = !this.#received;
        this.#received = true;
        this.#snapshot = { ...this.#snapshot, status: 'cached' };
        this.flush(true);
      }
      this.startSubscription();
    };
    cache.load(key).then(go, () => go(undefined));
  }

  #deactivate(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#endSubscription();
    this.#host.deactivate(this as LiveQuery<object>);
    this.#offStore?.();
    this.#offStore = null;
    clearTimeout(this.#echoTimer);
    this.#echo.clear();
    this.#serverIds.clear();
    this.#hold(new Set());
    this.#byId = new Map();
    this.#received = false;
    this.#loadingCache = 0;
    this.#snapshot = { rows: [], status: 'idle', error: null };
  }

  /** Subscribes on the current session, unless already done or there is none (the client calls again after setup). */
  startSubscription(): void {
    const session = this.#host.session();
    if (!this.#active || session === 0 || this.#subscribedIn === session || this.#loadingCache) return;
    this.#subscribedIn = session;
    const sub = this.#host.nextSubName();
    this.#sub = sub;
    this.#host.route(sub, this as LiveQuery<object>);
    this.#host.whenSchema(this.model as Model<object>, (err) => {
      if (this.#sub !== sub) return;
      if (err) return this.#fail(err);
      const known: Record<EntityId, string[]> = {};
      for (const id of this.#serverIds) {
        const s = this.#host.store.confirmedState(id);
        if (s && !s.deleted) known[id] = [...s.head];
      }
      const frame = {
        type: 'subscribe' as const,
        sub,
        collection: this.model.collection,
        query: this.#queryText,
        ...(this.#wireArgs.length > 0 ? { args: this.#wireArgs } : {}),
        ...(Object.keys(known).length > 0 ? { known } : {}),
      };
      this.#host.connection.send(frame, (e, result) => {
        if (this.#sub !== sub) return;
        if (e) {
          if (e.code !== 'disconnected' && e.code !== 'closed') this.#fail(e);
          return;
        }
        this.#onResult(result as SubscribeResult);
      }, { early: true });
    });
  }

  /** The session ended: the subscription is gone with it; keep showing what we have. */
  sessionLost(): void {
    this.#subscribedIn = 0;
    if (this.#sub) this.#host.route(this.#sub, undefined);
    this.#sub = '';
  }

  #endSubscription(): void {
    const sub = this.#sub;
    this.#sub = '';
    this.#subscribedIn = 0;
    if (!sub) return;
    this.#host.route(sub, undefined);
    if (this.#host.session() !== 0) {
      this.#host.connection.send({ type: 'unsubscribe', sub }, () => {}, { early: true });
    }
  }

  /** The server ended the subscription (e.g. schema_changed): keep the rows, show the error. */
  ended(err: AnkurahError): void {
    if (this.#sub) this.#host.route(this.#sub, undefined);
    this.#sub = '';
    this.#fail(err);
  }

  #fail(err: AnkurahError): void {
    this.#setSnapshot({ ...this.#snapshot, status: 'error', error: err });
  }

  /** The answer to subscribe: the whole result set, with `unchanged` for entities held at the same head. */
  #onResult(res: SubscribeResult): void {
    const store = this.#host.store;
    this.#initialDue = !this.#received;
    this.#received = true;
    this.#snapshot = { ...this.#snapshot, status: 'live', error: null };
    store.batch(() => {
      this.#serverIds.clear();
      for (const e of res.entities) {
        if (!e.unchanged || !store.confirmedState(e.id)) store.applyServer(e, this.model.collection);
        this.#serverIds.add(e.id);
      }
      // `removed` lists known ids that left: they are simply not in serverIds.
      this.#dirty = true;
    });
    this.#membersChanged = true;
    this.flush(true);
  }

  /** One item of a changes frame; the client calls flush() after the frame. */
  applyItem(item: ChangeItem): void {
    const id = item.entity.id;
    this.#host.store.applyServer(item.entity, this.model.collection, { events: item.events });
    if (item.kind === 'remove') this.#serverIds.delete(id);
    else this.#serverIds.add(id);
    this.#echo.delete(id);
    this.#dirty = true;
    this.#membersChanged = true;
  }

  #onStoreChange(c: StoreChange): void {
    const now = Date.now();
    for (const id of c.confirmed) {
      if (this.#host.store.visible(id)?.collection === this.model.collection) this.#echo.set(id, now + this.#host.echoMs);
    }
    if (c.confirmed.length > 0) this.#scheduleEcho();
    if (!this.#dirty) {
      for (const id of c.ids) {
        if (this.#serverIds.has(id) || this.#byId.has(id) || this.#host.store.visible(id)?.collection === this.model.collection) {
          this.#dirty = true;
          break;
        }
      }
    }
    this.flush();
  }

  #scheduleEcho(): void {
    clearTimeout(this.#echoTimer);
    let next = Infinity;
    for (const t of this.#echo.values()) next = Math.min(next, t);
    if (next === Infinity) return;
    this.#echoTimer = setTimeout(() => {
      const now = Date.now();
      for (const [id, t] of this.#echo) if (t <= now) this.#echo.delete(id);
      this.#dirty = true;
      this.flush();
      this.#scheduleEcho();
    }, Math.max(0, next - Date.now()));
  }

  /** Recomputes the rows if anything changed and tells the listeners. */
  flush(force = false): void {
    if (!(this.#dirty || force) || !this.#active) return;
    this.#dirty = false;
    if (this.#membersChanged && this.#snapshot.status === 'live') {
      this.#membersChanged = false;
      this.#host.cache?.save(this.#cacheKey, [...this.#serverIds]);
    }
    const store = this.#host.store;
    const m = this.#matcher;
    const candidates = new Set<EntityId>([...this.#serverIds, ...this.#echo.keys(), ...store.pendingIds(this.model.collection)]);
    let states: EntityState[] = [];
    for (const id of candidates) {
      const s = store.visible(id);
      if (!s || s.deleted || s.collection !== this.model.collection) continue;
      const local = m !== null && (s.pending || this.#echo.has(id));
      if (local ? m.match(recordOf(this.model as Model<object>, s)) : this.#serverIds.has(id)) states.push(s);
    }
    if (m) {
      const records = new Map(states.map((s) => [s, recordOf(this.model as Model<object>, s)]));
      states.sort((a, b) => m.compare(records.get(a)!, records.get(b)!));
      if (m.limit !== null) states = states.slice(0, m.limit);
    }
    this.#hold(new Set([...this.#serverIds, ...this.#echo.keys()]));
    const initial = this.#initialDue;
    this.#initialDue = false;
    this.#emit(
      states.map((s) => viewOf(this.model, s)),
      initial,
      force,
    );
  }

  #emit(rows: View<V>[], initial: boolean, force: boolean): void {
    const prev = this.#byId;
    const next = new Map(rows.map((v) => [v.id, v]));
    const changes: Change<V>[] = [];
    if (initial) {
      for (const v of rows) changes.push({ kind: 'initial', view: v });
    } else {
      for (const v of rows) {
        const old = prev.get(v.id);
        if (!old) changes.push({ kind: 'add', view: v });
        else if (old !== v) changes.push({ kind: 'update', view: v });
      }
      for (const [id, v] of prev) if (!next.has(id)) changes.push({ kind: 'remove', view: v });
    }
    const sameOrder = rows.length === this.#snapshot.rows.length && rows.every((v, i) => v === this.#snapshot.rows[i]);
    this.#byId = next;
    if (sameOrder && changes.length === 0 && !initial && !force) return;
    this.#setSnapshot({ ...this.#snapshot, rows });
    if (changes.length > 0 || initial) {
      const cs: ChangeSet<V> = { rows, changes };
      for (const fn of [...this.#changeListeners]) fn(cs);
    }
  }

  #setSnapshot(s: LiveQuerySnapshot<V>): void {
    this.#snapshot = s;
    for (const fn of [...this.#listeners]) fn(s);
  }

  /** Keeps exactly these entities in the store on this query's behalf. */
  #hold(ids: Set<EntityId>): void {
    const store = this.#host.store;
    for (const id of ids) if (!this.#held.has(id)) store.retain(id);
    for (const id of this.#held) if (!ids.has(id)) store.release(id);
    this.#held = ids;
  }
}
