/**
 * The durable local store for browsers, in IndexedDB: the confirmed states
 * of the entities a page holds, the last members of its live queries, and
 * the outbox of commits the server has not confirmed — shared by the tabs
 * of one origin.
 *
 * Layout (format 1): object stores `entities` (key id), `queries` (key: the
 * live query's collection, text and arguments; its member ids and when it
 * was last used), `outbox` (key: the commit's ULID; its events, schemas and
 * owner tab) and `meta` (`format`). A database whose layout or format is not
 * exactly this one — older, newer, or corrupted — is replaced by a fresh one;
 * the outbox entries that can still be read (events that pass the checks) are
 * carried over, so unsent writes survive, and the client is told
 * (`storage_reset`). Plain IndexedDB with a few promise helpers: the `idb`
 * package would save little code here (see docs/web.md, "Size").
 */
import { AnkurahError } from './errors.js';
import type { EntityId } from './protocol.js';
import { validEntity, validEvent, validOutbox, validQuery, type LocalStore, type OutboxEntry, type StoredEntity } from './persist.js';
import { headKey } from './store.js';

/** The layout this version reads and writes. */
export const FORMAT = 1;

const KEYS = { entities: 'id', queries: 'key', outbox: 'key' } as const;
const ALL = ['meta', 'entities', 'queries', 'outbox'];

export interface IndexedDBStoreOptions {
  /** The database's name (default: "ankurah " + the server's address). */
  name?: string;
  /** The IndexedDB to use (default: the global one). */
  indexedDB?: IDBFactory;
  /** How many live queries' members are kept, the most recently used (default 50); entities no kept query or outbox entry needs are dropped when the store opens. */
  maxQueries?: number;
}

/** A LocalStore in IndexedDB: pass it as the client's `storage` option. */
export function indexedDBStore(opts: IndexedDBStoreOptions = {}): LocalStore {
  return new IDBStore(opts);
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

const isQuota = (e: unknown): boolean => (e as { name?: string } | null)?.name === 'QuotaExceededError';

class IDBStore implements LocalStore {
  name = '';
  #db: IDBDatabase | null = null;
  #ready: Promise<IDBDatabase | null> = Promise.resolve(null);
  #report: (err: AnkurahError) => void = () => {};
  #states = new Map<EntityId, StoredEntity | null>();
  #queries = new Map<string, readonly EntityId[]>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  readonly #opts: IndexedDBStoreOptions;

  constructor(opts: IndexedDBStoreOptions) {
    this.#opts = opts;
  }

  open(name: string, report: (err: AnkurahError) => void): Promise<OutboxEntry[]> {
    this.name = this.#opts.name ?? name;
    this.#report = report;
    const p = this.#openDb();
    this.#ready = p.then(
      (r) => r.db,
      () => null,
    );
    return p.then(({ db, outbox }) => {
      if (this.#closed) {
        db.close();
        return [];
      }
      this.#db = db;
      this.#gc(db, outbox);
      return outbox;
    });
  }

  #factory(): IDBFactory {
    const f = this.#opts.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!f) throw new AnkurahError('storage_unavailable', 'no IndexedDB here: unsent commits are kept in memory only');
    return f;
  }

  /** Opens the database, replacing one of another layout (carrying its readable outbox over). */
  async #openDb(): Promise<{ db: IDBDatabase; outbox: OutboxEntry[] }> {
    const f = this.#factory();
    let db = await this.#connect(f);
    let read: { ok: boolean; outbox: OutboxEntry[]; bad: number };
    try {
      read = await readLayout(db);
    } catch {
      read = { ok: false, outbox: [], bad: 0 };
    }
    if (read.ok) {
      // Unreadable entries are skipped here and deleted by the next adopt().
      if (read.bad > 0) this.#report(new AnkurahError('storage_reset', `the local store had ${read.bad} unreadable outbox entries (skipped)`));
      return { db, outbox: read.outbox };
    }
    db.close();
    await req(f.deleteDatabase(this.name));
    db = await this.#connect(f);
    if (read.outbox.length > 0) {
      const tx = db.transaction('outbox', 'readwrite');
      for (const e of read.outbox) tx.objectStore('outbox').put(e);
      await done(tx);
    }
    this.#report(
      new AnkurahError(
        'storage_reset',
        `the local store had another layout: replaced, keeping ${read.outbox.length} unsent commit(s)` +
          (read.bad > 0 ? ` and dropping ${read.bad} unreadable one(s)` : ''),
      ),
    );
    return { db, outbox: read.outbox };
  }

  #connect(f: IDBFactory): Promise<IDBDatabase> {
    return new Promise((resolve, reject) => {
      const r = f.open(this.name);
      r.onupgradeneeded = (ev) => {
        if (ev.oldVersion !== 0) return; // not ours to change: readLayout decides
        const db = r.result;
        db.createObjectStore('meta').put(FORMAT, 'format');
        for (const [name, keyPath] of Object.entries(KEYS)) db.createObjectStore(name, { keyPath });
      };
      r.onblocked = () => reject(new AnkurahError('storage_unavailable', 'the local store is held by an older tab: close it and reload'));
      r.onerror = () => reject(new AnkurahError('storage_unavailable', `cannot open the local store: ${String(r.error)}`));
      r.onsuccess = () => {
        const db = r.result;
        db.onversionchange = () => {
          db.close();
          if (this.#db === db) {
            this.#db = null;
            this.#ready = Promise.resolve(null);
            this.#report(new AnkurahError('storage_unavailable', 'another tab replaced the local store: reload to use it'));
          }
        };
        resolve(db);
      };
    });
  }

  loadQuery(key: string): Promise<{ ids: EntityId[]; states: StoredEntity[] } | undefined> {
    return this.#ready.then((db) => {
      if (!db) return undefined;
      return new Promise((resolve) => {
        const tx = db.transaction(['queries', 'entities'], 'readonly');
        let ids: EntityId[] | undefined;
        const states: (StoredEntity | undefined)[] = [];
        const q = tx.objectStore('queries').get(key);
        q.onsuccess = () => {
          if (!validQuery(q.result)) return;
          ids = q.result.ids;
          ids.forEach((id, i) => {
            const g = tx.objectStore('entities').get(id);
            g.onsuccess = () => (states[i] = validEntity(g.result) ? g.result : undefined);
          });
        };
        tx.oncomplete = () => resolve(ids && { ids, states: states.filter((s): s is StoredEntity => s !== undefined) });
        tx.onabort = tx.onerror = () => resolve(undefined);
      });
    });
  }

  saveQuery(key: string, ids: readonly EntityId[]): void {
    this.#queries.set(key, ids);
    this.#schedule();
  }

  saveStates(states: readonly StoredEntity[], gone: readonly EntityId[]): void {
    for (const s of states) this.#states.set(s.id, { id: s.id, collection: s.collection, head: s.head, values: s.values });
    for (const id of gone) this.#states.set(id, null);
    if (states.length + gone.length > 0) this.#schedule();
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => void this.#flush(), 0);
  }

  /** Writes the cache changes gathered since the last flush, in one transaction; a newer stored state is kept. */
  async #flush(): Promise<void> {
    this.#timer = undefined;
    const db = await this.#ready;
    const states = this.#states;
    const queries = this.#queries;
    this.#states = new Map();
    this.#queries = new Map();
    if (!db || this.#db !== db) return;
    try {
      const tx = db.transaction(['entities', 'queries'], 'readwrite');
      const es = tx.objectStore('entities');
      for (const [id, s] of states) {
        if (!s) {
          es.delete(id);
          continue;
        }
        const g = es.get(id);
        g.onsuccess = () => {
          if (!validEntity(g.result) || headKey(g.result.head) <= headKey(s.head)) es.put(s);
        };
      }
      const now = Date.now();
      for (const [key, ids] of queries) tx.objectStore('queries').put({ key, ids: [...ids], used: now });
      await done(tx);
    } catch (e) {
      if (!isQuota(e)) return this.#report(new AnkurahError('storage_failed', `the local store refused a write: ${String(e)}`));
      // Out of space: the cache can go (the server has it all), the outbox stays.
      try {
        const tx = db.transaction(['entities', 'queries'], 'readwrite');
        tx.objectStore('entities').clear();
        tx.objectStore('queries').clear();
        await done(tx);
      } catch {
        // reported below either way
      }
      this.#report(new AnkurahError('storage_full', 'out of storage: the cache was cleared (unsent commits are kept)'));
    }
  }

  putOutbox(e: OutboxEntry): Promise<void> {
    return this.#write((o) => o.put(e), 'a commit could not be stored: it is kept in memory only');
  }

  deleteOutbox(key: string): Promise<void> {
    return this.#write((o) => o.delete(key), 'a sent commit could not be removed from the local store');
  }

  async #write(fn: (o: IDBObjectStore) => void, what: string): Promise<void> {
    const db = await this.#ready;
    if (!db) return;
    try {
      const tx = db.transaction('outbox', 'readwrite');
      fn(tx.objectStore('outbox'));
      await done(tx);
    } catch (err) {
      this.#report(new AnkurahError(isQuota(err) ? 'storage_full' : 'storage_failed', `${what} (${String(err)})`));
    }
  }

  async adopt(owner: string, to: string): Promise<OutboxEntry[]> {
    const db = await this.#ready;
    if (!db) return [];
    const out: OutboxEntry[] = [];
    const tx = db.transaction('outbox', 'readwrite');
    const c = tx.objectStore('outbox').openCursor();
    c.onsuccess = () => {
      const cur = c.result;
      if (!cur) return;
      const e: unknown = cur.value;
      if (!validOutbox(e)) cur.delete();
      else if (e.owner === owner) {
        const mine = { ...e, owner: to };
        cur.update(mine);
        out.push(mine);
      }
      cur.continue();
    };
    try {
      await done(tx);
    } catch (err) {
      this.#report(new AnkurahError('storage_failed', `cannot take over a closed tab\'s commits: ${String(err)}`));
      return [];
    }
    return out;
  }

  /** Keeps the maxQueries most recently used queries and the entities they (or the outbox) need. */
  #gc(db: IDBDatabase, outbox: readonly OutboxEntry[]): void {
    const keep = new Set<string>(outbox.flatMap((e) => e.events.map((ev) => ev.entity_id)));
    const tx = db.transaction(['queries', 'entities'], 'readwrite');
    const qs = tx.objectStore('queries');
    const all = qs.getAll();
    all.onsuccess = () => {
      const valid = (all.result as unknown[]).filter(validQuery).sort((a, b) => (b.used ?? 0) - (a.used ?? 0));
      const kept = valid.slice(0, this.#opts.maxQueries ?? 50);
      const keys = new Set(kept.map((q) => q.key));
      for (const q of kept) for (const id of q.ids) keep.add(id);
      const qc = qs.openKeyCursor();
      qc.onsuccess = () => {
        const cur = qc.result;
        if (!cur) return;
        if (!keys.has(cur.key as string)) qs.delete(cur.primaryKey);
        cur.continue();
      };
      const ec = tx.objectStore('entities').openCursor();
      ec.onsuccess = () => {
        const cur = ec.result;
        if (!cur) return;
        if (!keep.has(cur.key as string) || !validEntity(cur.value)) cur.delete();
        cur.continue();
      };
    };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#db?.close();
    this.#db = null;
    this.#ready = Promise.resolve(null);
  }
}

/**
 * Checks that db has exactly this version's layout and reads its outbox.
 * For another layout, it reads what it can of an `outbox` store: entries
 * whose events pass the checks (an older entry without an owner or schemas
 * gets none: any tab may send it).
 */
async function readLayout(db: IDBDatabase): Promise<{ ok: boolean; outbox: OutboxEntry[]; bad: number }> {
  const names = db.objectStoreNames;
  const stores = ALL.filter((n) => names.contains(n));
  let ok = stores.length === ALL.length && names.length === ALL.length;
  if (stores.length === 0) return { ok: false, outbox: [], bad: 0 };
  const tx = db.transaction(stores, 'readonly');
  if (ok) {
    for (const [name, keyPath] of Object.entries(KEYS)) if (tx.objectStore(name).keyPath !== keyPath) ok = false;
  }
  const format = names.contains('meta') ? req(tx.objectStore('meta').get('format')).catch(() => undefined) : Promise.resolve(undefined);
  const records = names.contains('outbox') ? req(tx.objectStore('outbox').getAll()) : Promise.resolve([]);
  const [f, rs] = await Promise.all([format, records]);
  ok = ok && f === FORMAT;
  const outbox: OutboxEntry[] = [];
  let bad = 0;
  for (const r of rs as unknown[]) {
    if (validOutbox(r)) outbox.push(r);
    else if (!ok && typeof r === 'object' && r !== null && Array.isArray((r as { events?: unknown }).events)) {
      // An older entry: keep its events if they are sound.
      const events = (r as { events: unknown[] }).events;
      if (events.length > 0 && events.every(validEvent)) {
        const key = (r as { key?: unknown }).key;
        outbox.push({ key: typeof key === 'string' ? key : events[0]!.id, owner: '', events, schemas: [] });
      } else bad++;
    } else bad++;
  }
  outbox.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { ok, outbox, bad };
}
