/**
 * React bindings, all on useSyncExternalStore so that concurrent rendering
 * never tears:
 *
 *     <AnkurahProvider client={client}><App /></AnkurahProvider>
 *     const { rows, status } = useLiveQuery(Album, 'year >= ? ORDER BY year', [2000], { enabled });
 *     const { rows } = useSuspenseLiveQuery(Album, 'year >= ?', [2000]); // inside <Suspense>
 *     const album = useEntity(Album, id);       // undefined while loading, null if absent
 *     const add = useMutation((tx, name: string) => tx.create(Album, { name }).id);
 *     const { status } = useConnectionState();
 *
 * Errors a component cannot render past (a query naming a field its model
 * lacks, a query the server refuses, under Suspense or with throwOnError)
 * are thrown to the nearest error boundary as AnkurahError, with a `code`.
 */
import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { Client, StorageState } from './client.js';
import type { ConnectionState } from './connection.js';
import { AnkurahError } from './errors.js';
import type { LiveQuery, LiveQuerySnapshot } from './livequery.js';
import type { Model, View } from './model.js';
import type { EntityId, QueryArg } from './protocol.js';
import type { CheckedQuery } from './querycheck.js';
import type { ReadSignal } from './signal.js';
import type { Transaction } from './transaction.js';

const ClientContext = createContext<Client | null>(null);

/** Makes a client available to the hooks below it. */
export function AnkurahProvider(props: { client: Client; children?: ReactNode }): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest AnkurahProvider. */
export function useClient(): Client {
  const c = useContext(ClientContext);
  if (!c) throw new AnkurahError('usage', 'useClient: no <AnkurahProvider client={…}> above this component');
  return c;
}

/** The current value of any signal; re-renders when it changes. */
export function useSignal<T>(s: ReadSignal<T>): T {
  const sub = useCallback((onChange: () => void) => s.subscribe(onChange), [s]);
  const get = useCallback(() => s.peek(), [s]);
  return useSyncExternalStore(sub, get, get);
}

/** The connection's state: status ('connecting' | 'connected' | 'reconnecting' | 'closed'), url, attempt, error (e.g. `unauthenticated`, `token_expired`: see isAuthError), retryAt, welcome (its `subject`: who is signed in). */
export function useConnectionState(): ConnectionState {
  return useSignal(useClient().state);
}

/** The durable store's state (status, error): see ClientOptions.storage. */
export function useStorageState(): StorageState {
  return useSignal(useClient().storage);
}

export interface LiveQueryOptions {
  /** false: no subscription, status `idle`, no rows (default true). */
  enabled?: boolean;
  /** Throw a refused query's error to the nearest error boundary instead of returning it (default false). */
  throwOnError?: boolean;
}

const IDLE: LiveQuerySnapshot<never> = Object.freeze({ rows: Object.freeze([]), status: 'idle', error: null });
const noSubscribe = (): (() => void) => () => {};

/**
 * A live query's rows, status and error. The subscription lives as long as
 * the component (and is enabled); new query text or arguments move the same
 * live query to the new selection (entities already held are not sent
 * again), keeping the previous rows on screen until the new ones arrive. A
 * new model starts a new live query.
 */
export function useLiveQuery<V extends object, Q extends string = ''>(
  model: Model<V>,
  query: CheckedQuery<Q, V> = '' as CheckedQuery<Q, V>,
  args: readonly QueryArg[] = [],
  opts: LiveQueryOptions = {},
): LiveQuerySnapshot<V> {
  return useLive(model, query, args, opts)[1];
}

function useLive<V extends object>(model: Model<V>, query: string, args: readonly QueryArg[], opts: LiveQueryOptions): [LiveQuery<V>, LiveQuerySnapshot<V>] {
  const client = useClient();
  const enabled = opts.enabled ?? true;
  // eslint-disable-next-line react-hooks/exhaustive-deps -- query and args follow in the effect below
  const lq = useMemo(() => client.query(model, query, args), [client, model]);
  const argsKey = JSON.stringify(args);
  useEffect(() => lq.update(query, args), [lq, query, argsKey]); // eslint-disable-line react-hooks/exhaustive-deps
  const get = (): LiveQuerySnapshot<V> => (enabled ? lq.peek() : IDLE);
  const snap = useSyncExternalStore(
    useCallback((cb: () => void) => (enabled ? lq.subscribe(cb) : noSubscribe()), [lq, enabled]),
    get,
    get,
  );
  if (opts.throwOnError && snap.error) throw snap.error;
  return [lq, snap];
}

/** An entity by id: its view, undefined while loading, null when it does not exist (or was deleted, or id is empty). */
export function useEntity<V extends object>(model: Model<V>, id: EntityId | null | undefined, opts: LiveQueryOptions = {}): View<V> | null | undefined {
  const client = useClient();
  const [lq, snap] = useLive(model, id ? 'id = ?' : 'FALSE', id ? [id] : [], { ...opts, enabled: (opts.enabled ?? true) && !!id });
  if (!id) return null;
  const row = snap.rows.find((r) => r.id === id);
  if (row) return row;
  if (snap.status === 'live' && lq.query.args[0] === id) return null;
  return client.peek(model, id); // held by another query: show it while this one loads
}

// ── Suspense ────────────────────────────────────────────────────────────

/** A live query kept across the renders of a suspended component, until one mounts with it. */
interface Entry {
  readonly lq: LiveQuery<object>;
  /** Resolves once the live query has rows to show (cached or live) or an error. */
  readonly ready: Promise<void>;
  /** The subscription that keeps it going until a component takes over. */
  hold: (() => void) | null;
  mounted: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** Per client: model → query key → entry. */
const suspended = new WeakMap<Client, WeakMap<Model<object>, Map<string, Entry>>>();

/**
 * How long a live query started by a suspended render is kept once it is
 * ready, waiting for the component to mount (React may abandon a render).
 */
export const SUSPENSE_HOLD_MS = 10_000;

function entryFor(client: Client, model: Model<object>, query: string, args: readonly QueryArg[]): [Map<string, Entry>, string, Entry] {
  let byModel = suspended.get(client);
  if (!byModel) suspended.set(client, (byModel = new WeakMap()));
  let entries = byModel.get(model);
  if (!entries) byModel.set(model, (entries = new Map()));
  const key = `${query}\n${JSON.stringify(args)}`;
  let e = entries.get(key);
  if (!e) {
    const lq = client.query(model, query, args); // throws unknown_field: to the error boundary
    let resolve!: () => void;
    const ready = new Promise<void>((r) => (resolve = r));
    const entry: Entry = { lq, ready, hold: null, mounted: 0 };
    entry.hold = lq.subscribe((s) => {
      if (s.status === 'loading') return;
      resolve();
      if (entry.mounted === 0) {
        clearTimeout(entry.timer);
        entry.timer = setTimeout(() => release(entries!, key, entry), SUSPENSE_HOLD_MS);
      }
    });
    const now = lq.peek().status;
    if (now !== 'loading' && now !== 'idle') resolve();
    entries.set(key, (e = entry));
  }
  return [entries, key, e];
}

function release(entries: Map<string, Entry>, key: string, e: Entry): void {
  if (e.mounted > 0) return;
  e.hold?.();
  e.hold = null;
  if (entries.get(key) === e) entries.delete(key);
}

/**
 * useLiveQuery for Suspense: suspends until the first rows are there (from
 * the durable cache, status `cached`, or from the server, `live`), and
 * throws a refused query's AnkurahError to the nearest error boundary.
 * New query text or arguments suspend again (wrap the change in
 * startTransition, or pass a useDeferredValue, to keep the old rows on
 * screen meanwhile).
 */
export function useSuspenseLiveQuery<V extends object, Q extends string = ''>(
  model: Model<V>,
  query: CheckedQuery<Q, V> = '' as CheckedQuery<Q, V>,
  args: readonly QueryArg[] = [],
): LiveQuerySnapshot<V> & { status: 'cached' | 'live' } {
  const client = useClient();
  const [entries, key, entry] = entryFor(client, model as Model<object>, query, args);
  const lq = entry.lq as LiveQuery<V>;
  useEffect(() => {
    entry.mounted++;
    clearTimeout(entry.timer);
    entry.hold?.(); // the component's own subscription keeps it now
    entry.hold = null;
    return () => {
      entry.mounted--;
      // StrictMode and moves between keys unmount and mount again at once.
      entry.timer = setTimeout(() => release(entries, key, entry), 0);
    };
  }, [entries, key, entry]);
  const snap = useSyncExternalStore(
    useCallback((cb: () => void) => lq.subscribe(cb), [lq]),
    () => lq.peek(),
    () => lq.peek(),
  );
  if (snap.status === 'error') {
    // Let go after this render (React renders a throwing component twice):
    // a retry once the boundary resets starts afresh.
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => release(entries, key, entry), 0);
    throw snap.error;
  }
  if (snap.status === 'loading' || snap.status === 'idle') throw entry.ready;
  return snap as LiveQuerySnapshot<V> & { status: 'cached' | 'live' };
}

/** useEntity for Suspense: the entity's view, or null when it does not exist (or was deleted). */
export function useSuspenseEntity<V extends object>(model: Model<V>, id: EntityId): View<V> | null {
  const snap = useSuspenseLiveQuery(model, 'id = ?' as string, [id]);
  return snap.rows.find((r) => r.id === id) ?? null;
}

// ── mutations ───────────────────────────────────────────────────────────

export interface Mutation<A extends unknown[], R> {
  /** Runs the mutation: a new transaction, fn, commit. Errors go to `error` (and the returned promise never rejects). */
  mutate(...args: A): Promise<R | undefined>;
  /** Like mutate, but the promise rejects with the error. */
  mutateAsync(...args: A): Promise<R>;
  /** Runs the last mutation again with the same arguments (after an error, say). */
  retry(): Promise<R | undefined>;
  /** Back to idle, forgetting the error and the result. */
  reset(): void;
  readonly status: 'idle' | 'pending' | 'success' | 'error';
  /** The commit is on its way: made (and shown) locally, not yet confirmed by the server. */
  readonly pending: boolean;
  readonly error: AnkurahError | null;
  /** What fn returned, once the commit is confirmed. */
  readonly data: R | undefined;
}

export interface MutationOptions<R> {
  onSuccess?: (data: R) => void;
  onError?: (err: AnkurahError) => void;
  /** Throw the error to the nearest error boundary on the next render (default false). */
  throwOnError?: boolean;
}

type MutationState<R> = { status: 'idle' | 'pending' | 'success' | 'error'; error: AnkurahError | null; data: R | undefined };

/**
 * A mutation over a transaction: fn gets a fresh transaction (and the
 * arguments of mutate) and makes its changes; the hook commits it and tracks
 * the commit — pending until the server confirms it (a commit made offline
 * stays pending until the connection is back), then success or error, with
 * retry. Only the latest call updates the state.
 *
 *     const rename = useMutation((tx, album: AlbumView, name: string) => { tx.edit(Album, album).name = name; });
 *     rename.mutate(album, 'Showbiz');  rename.pending;  rename.error?.code;  rename.retry();
 */
export function useMutation<A extends unknown[], R = void>(fn: (tx: Transaction, ...args: A) => R | Promise<R>, opts: MutationOptions<R> = {}): Mutation<A, R> {
  const client = useClient();
  const [state, setState] = useState<MutationState<R>>({ status: 'idle', error: null, data: undefined });
  const latest = useRef({ fn, opts, call: 0, args: null as A | null, alive: true });
  latest.current.fn = fn;
  latest.current.opts = opts;
  useEffect(() => {
    const l = latest.current;
    l.alive = true;
    return () => void (l.alive = false);
  }, []);

  const mutateAsync = useCallback(
    async (...args: A): Promise<R> => {
      const l = latest.current;
      const call = ++l.call;
      l.args = args;
      const mine = (): boolean => l.alive && l.call === call;
      setState({ status: 'pending', error: null, data: undefined });
      const tx = client.begin();
      try {
        const data = await l.fn(tx, ...args);
        await tx.commit();
        if (mine()) setState({ status: 'success', error: null, data });
        l.opts.onSuccess?.(data);
        return data;
      } catch (e) {
        try {
          tx.rollback();
        } catch {
          // already committed
        }
        const err = e instanceof AnkurahError ? e : new AnkurahError('mutation_failed', e instanceof Error ? e.message : String(e));
        if (mine()) setState({ status: 'error', error: err, data: undefined });
        l.opts.onError?.(err);
        throw err;
      }
    },
    [client],
  );
  const mutate = useCallback((...args: A) => mutateAsync(...args).catch(() => undefined), [mutateAsync]);
  const retry = useCallback(() => {
    const args = latest.current.args;
    return args ? mutate(...args) : Promise.resolve(undefined);
  }, [mutate]);
  const reset = useCallback(() => {
    latest.current.call++;
    setState({ status: 'idle', error: null, data: undefined });
  }, []);
  if (opts.throwOnError && state.error) throw state.error;
  return { mutate, mutateAsync, retry, reset, status: state.status, pending: state.status === 'pending', error: state.error, data: state.data };
}
