/**
 * The client: one connection, one entity store, live queries and
 * transactions over them. Everything else in the package is a part this
 * file wires together.
 *
 *     const client = new Client({ url: 'ws://127.0.0.1:9797/ws' });
 *     const albums = client.query(Album, 'year >= ? ORDER BY year', [2000]);
 *     albums.subscribe(({ rows }) => render(rows));
 *     await client.create(Album, { name: 'Showbiz', year: 1999 });
 */
import { Connection, type ConnectionOptions, type ConnectionState } from './connection.js';
import { AnkurahError, ClientCodes, retryableCodes } from './errors.js';
import type { LocalStore, OutboxEntry, StoredEntity } from './persist.js';
import { signal, type WritableSignal } from './signal.js';
import { Tabs, type TabMessage } from './tabs.js';
import { checkQuery, type CheckedQuery } from './querycheck.js';
import { ECHO_MS, LiveQuery, type LiveQueryHost } from './livequery.js';
import { modelSchema, type FieldSpec, type Model, type View } from './model.js';
import { argsToWire, type ChangeItem, type EntitiesResult, type EntityId, type EventId, type QueryArg, type SchemaChange, type WireCollection, type WireEntity, type WireEvent } from './protocol.js';
import type { ReadSignal } from './signal.js';
import { EntityStore, type EntityState } from './store.js';
import { textSupport, type TextHooks } from './textcore.js';
import { Transaction, type TransactionHost } from './transaction.js';
import { IdGenerator, type IdSource } from './ulid.js';
import { viewOf } from './view.js';

export interface ClientOptions extends ConnectionOptions {
  /**
   * Register the schema of every model the client uses (register_schema)
   * when a session opens, so that collections exist with the right column
   * types before the first query or commit. Default true.
   */
  registerSchema?: boolean;
  /** Clock and randomness for event ids (tests). */
  idSource?: IdSource;
  /** How often a commit refused with a retryable code (conflict, shutting_down) is sent again. Default 3. */
  commitRetries?: number;
  /**
   * How long live queries decide locally about an entity after its commit
   * was confirmed, waiting for the server's own change (default ECHO_MS, 5 s).
   */
  echoMs?: number;
  /**
   * A durable local store, e.g. `indexedDBStore()`: live queries show their
   * last results at once when a page starts (status `cached`), and commits
   * not yet confirmed survive reloads and are shared by the tabs of the
   * origin. Without it everything is kept in memory.
   */
  storage?: LocalStore;
  /** Called for a commit the server refused that no promise waits for (one made before a reload, or by a closed tab). */
  onRejected?: (err: AnkurahError, events: readonly WireEvent[]) => void;
}

type SchemaState = { done: true; err: AnkurahError | null } | { done: false; waiters: ((err: AnkurahError | null) => void)[] };

export class Client {
  readonly store = new EntityStore();
  declare readonly ids: IdGenerator;
  declare readonly connection: Connection;

  readonly #models = new Map<string, Model<object>>();
  readonly #routes = new Map<string, LiveQuery<object>>();
  readonly #active = new Set<LiveQuery<object>>();
  #sessionNo = 0;
  #sessions = 0;
  #schemas = new Map<string, SchemaState>();
  #subCounter = 0;
  /** Commits not yet answered, own and other tabs', by key; and which holds each event. */
  readonly #txs = new Map<string, Tx>();
  readonly #eventTx = new Map<EventId, string>();
  /** Keys of other tabs' commits answered already (a late message or read must not bring them back). */
  readonly #settledKeys = new Set<string>();
  #pumping = false;
  #closing = false;
  #wake: (() => void) | undefined;
  #local: LocalStore | null;
  #tabs: Tabs | null = null;
  #loadingCache = false;
  readonly #tabId: string;
  readonly #storage: WritableSignal<StorageState>;
  /** The narrow interfaces the parts see. */
  readonly #host: LiveQueryHost;
  readonly #txHost: TransactionHost;
  /** The ytext fields of each model's collection. */
  readonly #textFields = new Map<string, ReadonlySet<string>>();

  readonly #opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.#opts = opts;
    this.ids = new IdGenerator(opts.idSource);
    this.connection = new Connection(opts);
    this.#tabId = this.ids.next();
    this.#local = opts.storage ?? null;
    this.#storage = signal<StorageState>({ status: this.#local ? 'opening' : 'off' });
    const opened = this.#local ? this.#openLocal(this.#local) : Promise.resolve();
    this.store.onChange((c) => this.#persistStates(c.ids));
    this.store.textFields = (collection) => this.#textFields.get(collection) ?? noTextFields;
    this.#host = {
      store: this.store,
      connection: this.connection,
      echoMs: opts.echoMs ?? ECHO_MS,
      session: () => this.#sessionNo,
      whenSchema: (m, cb) => this.#whenSchema(m, cb),
      route: (sub, lq) => {
        if (lq) this.#routes.set(sub, lq);
        else this.#routes.delete(sub);
      },
      nextSubName: () => `q${++this.#subCounter}`,
      activate: (lq) => void this.#active.add(lq),
      deactivate: (lq) => void this.#active.delete(lq),
      cache: this.#local && {
        load: async (key) => {
          // A store that takes long to open (another tab upgrading it, a
          // slow disk) must not hold the live queries back: after 3 s they
          // subscribe without the cache.
          const open = await Promise.race([opened.then(() => true), new Promise<boolean>((r) => setTimeout(r, 3000, false))]);
          const got = open && this.#local && (await this.#local.loadQuery(key));
          if (!got) return undefined;
          this.#loadingCache = true;
          try {
            this.store.batch(() => {
              for (const st of got.states) this.store.applyServer(st as WireEntity, st.collection, { texts: st.texts });
            });
          } finally {
            this.#loadingCache = false;
          }
          return got.ids;
        },
        save: (key, ids) => this.#local?.saveQuery(key, ids),
      },
    };
    this.#txHost = { ids: this.ids, store: this.store, submit: (events, models) => this.#submit(events, models), text: () => this.text() };
    this.connection.start({
      setup: () => this.#setup(),
      changes: (items) => this.#changes(items),
      lost: () => this.#lost(),
      schema: (change, collection) => this.#schemaChanged(change, collection),
      subEnded: (sub, err) => this.#routes.get(sub)?.ended(err),
    });
  }

  readonly #schemaListeners = new Set<(change: SchemaChange, collection: WireCollection | null) => void>();
  readonly #serverSchemas = new Map<string, WireCollection | null>();

  /**
   * Calls fn for every change of a collection's schema the server pushes
   * (made with SQL: a field added, dropped, renamed or retyped, the table
   * renamed or dropped), with the collection's schema after it (null when
   * it was dropped). A live query whose query names a field dropped,
   * renamed or retyped ends with error code `schema_changed`: make a new
   * one with the new names. Returns a function that stops the calls.
   */
  onSchemaChange(fn: (change: SchemaChange, collection: WireCollection | null) => void): () => void {
    this.#schemaListeners.add(fn);
    return () => void this.#schemaListeners.delete(fn);
  }

  /** The collection's schema as the server last pushed it (undefined: no change pushed; null: dropped). */
  serverSchema(collection: string): WireCollection | null | undefined {
    return this.#serverSchemas.get(collection);
  }

  #schemaChanged(change: SchemaChange, collection: WireCollection | null): void {
    this.#serverSchemas.set(change.collection, collection);
    for (const fn of [...this.#schemaListeners]) fn(change, collection);
  }

  /** The durable store's state as a signal (status, error). */
  get storage(): ReadSignal<StorageState> {
    return this.#storage;
  }

  /** The connection state as a signal (status, attempt, error, retryAt). */
  get state(): ReadSignal<ConnectionState> {
    return this.connection.state;
  }

  /**
   * A live query over a model's collection. It subscribes when first
   * watched (subscribe / onChange) and unsubscribes when nobody watches.
   */
  query<V extends object, Q extends string = ''>(model: Model<V>, query: CheckedQuery<Q, V> = '' as CheckedQuery<Q, V>, args: readonly QueryArg[] = []): LiveQuery<V> {
    this.#use(model as Model<object>);
    return new LiveQuery(this.#host, model, query, args);
  }

  /** A live query for one entity by id (its rows hold it, or nothing). */
  entity<V extends object>(model: Model<V>, id: EntityId): LiveQuery<V> {
    return this.query(model, 'id = ?', [id]);
  }

  /** The entity's current view if the client holds it. */
  peek<V extends object>(model: Model<V>, id: EntityId): View<V> | undefined {
    const s = this.store.visible(id);
    return s && !s.deleted && s.collection === model.collection ? viewOf(model, s) : undefined;
  }

  /** Starts a transaction. */
  begin(): Transaction {
    return new Transaction(this.#txHost);
  }

  /** Creates one entity in its own transaction. */
  async create<V extends object>(model: Model<V>, values: Partial<V>): Promise<View<V>> {
    const tx = this.begin();
    const m = tx.create(model, values);
    const views = await tx.commit();
    return (views.find((v) => v.id === m.id) ?? views[0]) as View<V>;
  }

  /** Sets fields of one entity in its own transaction. */
  async update<V extends object>(model: Model<V>, target: View<V> | EntityId, patch: Partial<V>): Promise<View<V> | undefined> {
    const tx = this.begin();
    tx.update(model, target, patch);
    return (await tx.commit())[0] as View<V> | undefined;
  }

  /** Deletes one entity in its own transaction. */
  async delete<V extends object>(model: Model<V>, target: View<V> | EntityId): Promise<void> {
    const tx = this.begin();
    tx.delete(model, target);
    await tx.commit();
  }

  /** A one-shot query. */
  async fetch<V extends object, Q extends string = ''>(model: Model<V>, query: CheckedQuery<Q, V> = '' as CheckedQuery<Q, V>, args: readonly QueryArg[] = []): Promise<View<V>[]> {
    checkQuery(model as Model<object>, query);
    await this.#schemaReady(model as Model<object>);
    const frame = { type: 'fetch' as const, collection: model.collection, query, ...(args.length ? { args: argsToWire(args) } : {}) };
    const res = await this.connection.request<EntitiesResult>(frame, { persistent: true });
    return res.entities.map((e) => viewOf(model, stateOf(e, model.collection)));
  }

  /** Entities by id, in the order asked; missing ones are left out. */
  async get<V extends object>(model: Model<V>, ids: readonly EntityId[]): Promise<View<V>[]> {
    await this.#schemaReady(model as Model<object>);
    const res = await this.connection.request<EntitiesResult>({ type: 'get', collection: model.collection, ids: [...ids] }, { persistent: true });
    return res.entities.map((e) => viewOf(model, stateOf(e, model.collection)));
  }

  /**
   * Reads entities from the server into the client's store (for one a
   * live query holds: the documents of its ytext fields, which changes
   * entering a result set may come without).
   */
  async refresh<V extends object>(model: Model<V>, ids: readonly EntityId[]): Promise<void> {
    await this.#schemaReady(model as Model<object>);
    const res = await this.connection.request<EntitiesResult>({ type: 'get', collection: model.collection, ids: [...ids] }, { persistent: true });
    this.store.batch(() => {
      for (const e of res.entities) this.store.applyServer(e, model.collection);
    });
  }

  /**
   * The live documents of ytext fields: made by '@ankurah/client/text'
   * (null until it is loaded). Its textOf calls this.
   */
  text(): TextHooks | null {
    return (this.store.text ??= textSupport()?.hooks(this) ?? null);
  }

  /** The model the client uses for a collection, if any. */
  modelOf(collection: string): Model<object> | undefined {
    return this.#models.get(collection);
  }

  /** An entity's history, oldest first. */
  async history(model: Model<object>, id: EntityId): Promise<WireEvent[]> {
    await this.#schemaReady(model);
    const res = await this.connection.request<{ events: WireEvent[] }>({ type: 'get_events', collection: model.collection, entity_id: id }, { persistent: true });
    return res.events;
  }

  /** Closes the connection; live queries stop, unanswered requests fail with code `closed`. */
  close(): void {
    this.#closing = true;
    this.connection.close();
    this.#tabs?.close();
    this.#local?.close();
    for (const tx of [...this.#txs.values()]) if (tx.own) this.#settle(tx, null, new AnkurahError(ClientCodes.closed, 'the client was closed'));
    this.#wake?.();
  }

  // ── sessions ────────────────────────────────────────────────────────────

  async #setup(): Promise<void> {
    const session = (this.#sessionNo = ++this.#sessions);
    this.#schemas = new Map();
    if (this.#opts.registerSchema !== false && this.#models.size > 0) {
      await this.#register([...this.#models.values()]);
    }
    if (this.#sessionNo !== session) return;
    for (const lq of this.#active) lq.startSubscription();
  }

  #changes(items: ChangeItem[]): void {
    const touched = new Set<LiveQuery<object>>();
    this.store.batch(() => {
      for (const item of items) {
        const lq = this.#routes.get(item.sub);
        if (!lq) continue; // a subscription that just ended
        lq.applyItem(item);
        touched.add(lq);
      }
    });
    for (const lq of touched) lq.flush();
  }

  #lost(): void {
    this.#sessionNo = 0;
    for (const lq of this.#active) lq.sessionLost();
    this.#routes.clear();
  }

  // ── schemas ─────────────────────────────────────────────────────────────

  #use(model: Model<object>): void {
    const had = this.#models.get(model.collection);
    if (had && had !== model && JSON.stringify(modelSchema(had)) !== JSON.stringify(modelSchema(model))) {
      throw new AnkurahError('usage', `two different models for collection ${model.collection}`);
    }
    if (had) return;
    this.#models.set(model.collection, model);
    const fields = model.fields as Record<string, FieldSpec>;
    this.#textFields.set(model.collection, new Set(Object.keys(fields).filter((k) => fields[k]!.type === 'ytext')));
  }

  /** Registers models on the current session; their schema state settles with the answer. */
  #register(models: Model<object>[]): Promise<void> {
    const states = models.map((m) => {
      const st: SchemaState = { done: false, waiters: [] };
      this.#schemas.set(m.collection, st);
      return [m.collection, st] as const;
    });
    const settle = (err: AnkurahError | null): void => {
      for (const [name, st] of states) {
        if (this.#schemas.get(name) !== st || st.done) continue;
        this.#schemas.set(name, { done: true, err });
        for (const w of st.waiters) w(err);
      }
    };
    return new Promise((resolve) => {
      this.connection.send(
        { type: 'register_schema', collections: models.map(modelSchema) },
        (err) => {
          // A lost session is no schema error: whoever waits goes on, and
          // its request waits for the next session, whose setup registers
          // every model again before anything else is sent.
          settle(err && (err.code === 'disconnected' || err.code === 'closed') ? null : err);
          resolve();
        },
        { early: true },
      );
    });
  }

  #whenSchema(model: Model<object>, cb: (err: AnkurahError | null) => void): void {
    this.#use(model);
    if (this.#opts.registerSchema === false) return cb(null);
    let st = this.#schemas.get(model.collection);
    if (!st) {
      void this.#register([model]);
      st = this.#schemas.get(model.collection)!;
    }
    if (st.done) cb(st.err);
    else st.waiters.push(cb);
  }

  /** Resolves when the model can be used on the current session (at once when there is none: setup will register it). */
  #schemaReady(model: Model<object>): Promise<void> {
    this.#use(model);
    if (this.#sessionNo === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#whenSchema(model, (err) => (err ? reject(err) : resolve())));
  }

  // ── commits and the outbox ─────────────────────────────────────────────

  /**
   * Shows a transaction's events at once, keeps it in the outbox (durable
   * with a storage option, and then shown to the other tabs) and sends it.
   */
  #submit(events: WireEvent[], models: ReadonlyMap<EntityId, Model<object>>): Promise<View<object>[]> {
    for (const m of models.values()) this.#use(m);
    const schemas = [...new Set(models.values())].map(modelSchema);
    const entry: OutboxEntry = { key: this.ids.next(), owner: this.#tabId, events, schemas };
    return new Promise<EntitiesResult>((resolve, reject) => {
      this.#addTx({ entry, own: true, models, resolve, reject });
      this.#tabs?.post({ t: 'pending', ...entry });
      void this.#local?.putOutbox(entry);
      this.#pump();
    }).then((res) =>
      res.entities.flatMap((e) => {
        const m = models.get(e.id);
        return m && !e.deleted ? [viewOf(m, stateOf(e, m.collection))] : [];
      }),
    );
  }

  #addTx(tx: Tx): void {
    this.#txs.set(tx.entry.key, tx);
    for (const e of tx.entry.events) this.#eventTx.set(e.id, tx.entry.key);
    this.store.addPending(tx.entry.key, tx.entry.events);
  }

  #dropTx(tx: Tx): void {
    this.#txs.delete(tx.entry.key);
    for (const e of tx.entry.events) this.#eventTx.delete(e.id);
  }

  /**
   * Sends own commits one at a time, oldest first, each after every pending
   * commit its events build on (a commit of another tab is waited for until
   * that tab's answer is broadcast, or until this tab takes it over).
   */
  #pump(): void {
    this.#wake?.();
    if (this.#pumping || this.#closing) return;
    this.#pumping = true;
    void (async () => {
      for (;;) {
        const own = [...this.#txs.values()].filter((t) => t.own).sort((a, b) => (a.entry.key < b.entry.key ? -1 : 1));
        if (own.length === 0 || this.#closing) break;
        const tx = own.find((t) => !t.entry.events.some((e) => e.parents.some((p) => this.#eventTx.has(p) && this.#eventTx.get(p) !== t.entry.key)));
        if (!tx) {
          await new Promise<void>((r) => (this.#wake = r));
          continue;
        }
        try {
          this.#settle(tx, await this.#send(tx), null);
        } catch (e) {
          this.#settle(tx, null, e instanceof AnkurahError ? e : new AnkurahError('internal', String(e)));
        }
      }
      this.#pumping = false;
    })();
  }

  async #send(tx: Tx): Promise<EntitiesResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (tx.models) for (const m of new Set(tx.models.values())) await this.#schemaReady(m);
        else if (tx.entry.schemas.length > 0) await this.connection.request({ type: 'register_schema', collections: [...tx.entry.schemas] }, { persistent: true });
        return await this.connection.request<EntitiesResult>({ type: 'commit', events: [...tx.entry.events] }, { persistent: true });
      } catch (e) {
        if (!(e instanceof AnkurahError) || !retryableCodes.has(e.code) || attempt >= (this.#opts.commitRetries ?? 3)) throw e;
      }
    }
  }

  /** The server answered an own commit: confirmed state in, overlay out, outbox entry gone, other tabs told. */
  #settle(tx: Tx, res: EntitiesResult | null, err: AnkurahError | null): void {
    this.#dropTx(tx);
    if (err?.code === ClientCodes.closed) {
      tx.reject?.(err); // not answered: the entry stays in the outbox for the next page
      return;
    }
    this.store.batch(() => {
      for (const e of res?.entities ?? []) this.store.applyServer(e, tx.models?.get(e.id)?.collection ?? '');
      this.store.settle(tx.entry.key, res !== null);
    });
    const told = { t: 'settled' as const, key: tx.entry.key, accepted: res !== null, entities: res?.entities ?? [] };
    if (this.#local) void this.#local.deleteOutbox(tx.entry.key).then(() => this.#tabs?.post(told));
    if (res) tx.resolve?.(res);
    else if (tx.reject) tx.reject(err);
    else this.#opts.onRejected?.(err!, tx.entry.events);
    this.#wake?.();
  }

  // ── the durable store and the other tabs ───────────────────────────────

  async #openLocal(local: LocalStore): Promise<void> {
    const report = (err: AnkurahError): void => this.#storage.update((s) => ({ ...s, error: err }));
    let outbox: OutboxEntry[];
    try {
      outbox = await local.open(`ankurah ${this.#opts.url}`, report);
    } catch (e) {
      const err = e instanceof AnkurahError ? e : new AnkurahError('storage_unavailable', String(e));
      this.#local = null;
      this.#storage.set({ status: 'memory', error: err });
      return;
    }
    if (this.#closing) return;
    this.#tabs = new Tabs(local.name, this.#tabId, (m) => this.#onTab(m), (owner) => this.#adopt(owner));
    await this.#tabs.ready;
    this.store.batch(() => {
      for (const entry of outbox) if (!this.#txs.has(entry.key) && !this.#settledKeys.has(entry.key)) this.#addTx({ entry, own: false });
    });
    for (const entry of outbox) this.#tabs.watch(entry.owner);
    this.#storage.update((s) => ({ ...s, status: 'ready' }));
  }

  #onTab(m: TabMessage): void {
    if (m.t === 'pending') {
      if (this.#txs.has(m.key) || this.#settledKeys.has(m.key)) return;
      this.#addTx({ entry: { key: m.key, owner: m.owner, events: m.events, schemas: [] }, own: false });
      this.#tabs!.watch(m.owner);
      return;
    }
    this.#settledKeys.add(m.key);
    if (this.#settledKeys.size > 1000) this.#settledKeys.delete(this.#settledKeys.values().next().value!);
    const tx = this.#txs.get(m.key);
    if (!tx || tx.own) return;
    this.#dropTx(tx);
    this.store.batch(() => {
      for (const e of m.entities) this.store.applyServer(e, '');
      this.store.settle(m.key, m.accepted);
    });
    this.#pump();
  }

  /** A tab is gone: its commits are ours to send now. */
  async #adopt(owner: string): Promise<void> {
    const entries = await this.#local!.adopt(owner, this.#tabId);
    const taken = new Set(entries.map((e) => e.key));
    this.store.batch(() => {
      for (const entry of entries) {
        const had = this.#txs.get(entry.key);
        if (had) had.own = true;
        else this.#addTx({ entry, own: true });
      }
      // Its entries no longer in the outbox were answered while we did not listen.
      for (const tx of [...this.#txs.values()]) {
        if (!tx.own && tx.entry.owner === owner && !taken.has(tx.entry.key)) {
          this.#dropTx(tx);
          this.store.settle(tx.entry.key, true);
        }
      }
    });
    this.#pump();
  }

  /** Writes the confirmed states of changed entities to the durable store. */
  #persistStates(ids: ReadonlySet<EntityId>): void {
    if (!this.#local || this.#loadingCache) return;
    const states: StoredEntity[] = [];
    const gone: EntityId[] = [];
    for (const id of ids) {
      const s = this.store.confirmedState(id);
      if (!s) continue;
      if (s.deleted) gone.push(id);
      else states.push(s);
    }
    this.#local.saveStates(states, gone);
  }
}

interface Tx {
  readonly entry: OutboxEntry;
  /** This tab sends it (otherwise another tab does, and this one only shows it). */
  own: boolean;
  readonly models?: ReadonlyMap<EntityId, Model<object>>;
  readonly resolve?: (r: EntitiesResult) => void;
  readonly reject?: (e: unknown) => void;
}

/** The durable store's state. */
export interface StorageState {
  /** `off`: no storage option; `opening`; `ready`; `memory`: the store could not be opened, so nothing outlives the page. */
  readonly status: 'off' | 'opening' | 'ready' | 'memory';
  /** The last problem (storage_unavailable, storage_full, storage_reset, storage_failed), if any. */
  readonly error?: AnkurahError;
}

const noTextFields: ReadonlySet<string> = new Set();

function stateOf(e: WireEntity, collection: string): EntityState {
  return { id: e.id, collection: e.collection ?? collection, head: e.head, values: e.values ?? {}, deleted: e.deleted === true, pending: false };
}
