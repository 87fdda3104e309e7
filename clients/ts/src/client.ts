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
import { AnkurahError, retryableCodes } from './errors.js';
import { checkFields, type CheckedQuery } from './querycheck.js';
import { parse } from './query/parse.js';
import { ECHO_MS, LiveQuery, type LiveQueryHost } from './livequery.js';
import { modelSchema, type Model, type View } from './model.js';
import { argsToWire, type ChangeItem, type EntitiesResult, type EntityId, type QueryArg, type WireEntity, type WireEvent } from './protocol.js';
import type { ReadSignal } from './signal.js';
import { EntityStore, type EntityState } from './store.js';
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
}

type SchemaState = { done: true; err: AnkurahError | null } | { done: false; waiters: ((err: AnkurahError | null) => void)[] };

export class Client {
  readonly store = new EntityStore();
  readonly ids: IdGenerator;
  readonly connection: Connection;

  private readonly models = new Map<string, Model<object>>();
  private readonly routes = new Map<string, LiveQuery<object>>();
  private readonly active = new Set<LiveQuery<object>>();
  private sessionNo = 0;
  private sessions = 0;
  private schemas = new Map<string, SchemaState>();
  private subCounter = 0;
  private txCounter = 0;
  private commitChain: Promise<unknown> = Promise.resolve();
  /** The narrow interfaces the parts see. */
  private readonly host: LiveQueryHost;
  private readonly txHost: TransactionHost;

  constructor(private readonly opts: ClientOptions) {
    this.ids = new IdGenerator(opts.idSource);
    this.connection = new Connection(opts);
    this.host = {
      store: this.store,
      connection: this.connection,
      echoMs: opts.echoMs ?? ECHO_MS,
      session: () => this.sessionNo,
      whenSchema: (m, cb) => this.whenSchema(m, cb),
      route: (sub, lq) => {
        if (lq) this.routes.set(sub, lq);
        else this.routes.delete(sub);
      },
      nextSubName: () => `q${++this.subCounter}`,
      activate: (lq) => void this.active.add(lq),
      deactivate: (lq) => void this.active.delete(lq),
    };
    this.txHost = { ids: this.ids, store: this.store, submit: (events, models) => this.submit(events, models) };
    this.connection.start({
      setup: () => this.setup(),
      changes: (items) => this.changes(items),
      lost: () => this.lost(),
    });
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
    this.use(model as Model<object>);
    return new LiveQuery(this.host, model, query, args);
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
    return new Transaction(this.txHost);
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
    await this.schemaReady(model as Model<object>);
    const frame = { type: 'fetch' as const, collection: model.collection, query, ...(args.length ? { args: argsToWire(args) } : {}) };
    const res = await this.connection.request<EntitiesResult>(frame, { persistent: true });
    return res.entities.map((e) => viewOf(model, stateOf(e, model.collection)));
  }

  /** Entities by id, in the order asked; missing ones are left out. */
  async get<V extends object>(model: Model<V>, ids: readonly EntityId[]): Promise<View<V>[]> {
    await this.schemaReady(model as Model<object>);
    const res = await this.connection.request<EntitiesResult>({ type: 'get', collection: model.collection, ids: [...ids] }, { persistent: true });
    return res.entities.map((e) => viewOf(model, stateOf(e, model.collection)));
  }

  /** An entity's history, oldest first. */
  async history(model: Model<object>, id: EntityId): Promise<WireEvent[]> {
    await this.schemaReady(model);
    const res = await this.connection.request<{ events: WireEvent[] }>({ type: 'get_events', collection: model.collection, entity_id: id }, { persistent: true });
    return res.events;
  }

  /** Closes the connection; live queries stop, unanswered requests fail with code `closed`. */
  close(): void {
    this.connection.close();
  }

  // ── sessions ────────────────────────────────────────────────────────────

  private async setup(): Promise<void> {
    this.sessionNo = ++this.sessions;
    const session = this.sessionNo;
    this.schemas = new Map();
    if (this.opts.registerSchema !== false && this.models.size > 0) {
      await this.register([...this.models.values()]);
    }
    if (this.sessionNo !== session) return;
    for (const lq of this.active) lq.startSubscription();
  }

  private changes(items: ChangeItem[]): void {
    const touched = new Set<LiveQuery<object>>();
    this.store.batch(() => {
      for (const item of items) {
        const lq = this.routes.get(item.sub);
        if (!lq) continue; // a subscription that just ended
        lq.applyItem(item);
        touched.add(lq);
      }
    });
    for (const lq of touched) lq.flush();
  }

  private lost(): void {
    this.sessionNo = 0;
    for (const lq of this.active) lq.sessionLost();
    this.routes.clear();
  }

  // ── schemas ─────────────────────────────────────────────────────────────

  private use(model: Model<object>): void {
    const had = this.models.get(model.collection);
    if (had && had !== model && JSON.stringify(modelSchema(had)) !== JSON.stringify(modelSchema(model))) {
      throw new AnkurahError('usage', `two different models for collection ${model.collection}`);
    }
    if (!had) this.models.set(model.collection, model);
  }

  /** Registers models on the current session; their schema state settles with the answer. */
  private register(models: Model<object>[]): Promise<void> {
    const states = models.map((m) => {
      const st: SchemaState = { done: false, waiters: [] };
      this.schemas.set(m.collection, st);
      return [m.collection, st] as const;
    });
    const settle = (err: AnkurahError | null): void => {
      for (const [name, st] of states) {
        if (this.schemas.get(name) !== st || st.done) continue;
        this.schemas.set(name, { done: true, err });
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

  private whenSchema(model: Model<object>, cb: (err: AnkurahError | null) => void): void {
    this.use(model);
    if (this.opts.registerSchema === false) return cb(null);
    let st = this.schemas.get(model.collection);
    if (!st) {
      void this.register([model]);
      st = this.schemas.get(model.collection)!;
    }
    if (st.done) cb(st.err);
    else st.waiters.push(cb);
  }

  /** Resolves when the model can be used on the current session (at once when there is none: setup will register it). */
  private schemaReady(model: Model<object>): Promise<void> {
    this.use(model);
    if (this.sessionNo === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.whenSchema(model, (err) => (err ? reject(err) : resolve())));
  }

  // ── commits ─────────────────────────────────────────────────────────────

  /**
   * Shows a transaction's events at once and sends them. Commits go one at
   * a time, in order, so that a commit building on an earlier one's events
   * never reaches the server first; an answered commit's result becomes the
   * confirmed state and the overlay goes, a refused one just goes.
   */
  private submit(events: WireEvent[], models: ReadonlyMap<EntityId, Model<object>>): Promise<View<object>[]> {
    const tx = ++this.txCounter;
    for (const m of models.values()) this.use(m);
    this.store.addPending(tx, events);
    const send = async (): Promise<EntitiesResult> => {
      for (let attempt = 0; ; attempt++) {
        try {
          for (const m of new Set(models.values())) await this.schemaReady(m);
          return await this.connection.request<EntitiesResult>({ type: 'commit', events }, { persistent: true });
        } catch (e) {
          if (!(e instanceof AnkurahError) || !retryableCodes.has(e.code) || attempt >= (this.opts.commitRetries ?? 3)) throw e;
        }
      }
    };
    const result = this.commitChain.then(send);
    this.commitChain = result.catch(() => undefined);
    return result.then(
      (res) => {
        this.store.batch(() => {
          for (const e of res.entities) this.store.applyServer(e, models.get(e.id)?.collection ?? '');
          this.store.settle(tx, true);
        });
        return res.entities.flatMap((e) => {
          const m = models.get(e.id);
          return m && !e.deleted ? [viewOf(m, stateOf(e, m.collection))] : [];
        });
      },
      (err: unknown) => {
        this.store.settle(tx, false);
        throw err;
      },
    );
  }
}

/** Checks a query's fields against its model when the query parses (a parse error is the server's to report). */
function checkQuery(model: Model<object>, text: string): void {
  let q;
  try {
    q = parse(text);
  } catch {
    return;
  }
  checkFields(model, q);
}

function stateOf(e: WireEntity, collection: string): EntityState {
  return { id: e.id, collection: e.collection ?? collection, head: e.head, values: e.values ?? {}, deleted: e.deleted === true, pending: false };
}
