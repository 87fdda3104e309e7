// An IndexedDB that runs out of space on demand. A browser aborts a
// transaction that would exceed the origin's quota, with a
// QuotaExceededError as the transaction's error; fake-indexeddb has no quota
// and cannot. This wraps a real (fake-indexeddb) IDBFactory and injects
// exactly that failure — the first put or add of a readwrite transaction
// over a store named in `full` aborts it, and its error is a
// QuotaExceededError — so that the tests exercise the client's handling, not
// a browser's. Deleting and clearing never fail (they free space).

/** Passes everything through to target, with some properties replaced. */
function through<T extends object>(target: T, over: (prop: PropertyKey) => unknown): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = over(prop);
      if (v !== undefined) return v;
      const real = Reflect.get(t, prop, t) as unknown;
      return typeof real === 'function' ? (real as (...a: unknown[]) => unknown).bind(t) : real;
    },
    set(t, prop, value) {
      return Reflect.set(t, prop, value, t);
    },
  });
}

export interface QuotaIDB {
  /** Pass as indexedDBStore({ indexedDB }). */
  readonly indexedDB: IDBFactory;
  /** Object stores that are out of space now. */
  readonly full: Set<string>;
  /** How many transactions were aborted for quota. */
  readonly aborted: number;
}

export function quotaIDB(real: IDBFactory): QuotaIDB {
  const full = new Set<string>();
  let aborted = 0;
  const dbs = new WeakMap<IDBDatabase, IDBDatabase>();

  const failing = (tx: IDBTransaction): IDBTransaction => {
    let error: DOMException | null = null;
    const store = (s: IDBObjectStore): IDBObjectStore =>
      through(s, (prop) => {
        if (prop !== 'put' && prop !== 'add') return undefined;
        return (...args: unknown[]) => {
          const r = (s[prop] as (...a: unknown[]) => IDBRequest).apply(s, args);
          if (!error) {
            error = new DOMException('the quota of this origin is exceeded', 'QuotaExceededError');
            aborted++;
            tx.abort();
          }
          return r;
        };
      });
    return through(tx, (prop) => {
      if (prop === 'error') return error ?? tx.error ?? undefined;
      if (prop === 'objectStore') return (name: string) => store(tx.objectStore(name));
      return undefined;
    });
  };

  const wrapDb = (db: IDBDatabase): IDBDatabase => {
    let w = dbs.get(db);
    if (!w) {
      w = through(db, (prop) => {
        if (prop !== 'transaction') return undefined;
        return (names: string | string[], mode?: IDBTransactionMode) => {
          const tx = db.transaction(names, mode);
          const list = typeof names === 'string' ? [names] : names;
          return mode === 'readwrite' && list.some((n) => full.has(n)) ? failing(tx) : tx;
        };
      });
      dbs.set(db, w);
    }
    return w;
  };

  const factory = through(real, (prop) => {
    if (prop !== 'open') return undefined;
    return (name: string, version?: number) => {
      const r = version === undefined ? real.open(name) : real.open(name, version);
      return through(r, (p) => (p === 'result' && r.readyState === 'done' && r.result ? wrapDb(r.result) : undefined));
    };
  });
  return {
    indexedDB: factory,
    full,
    get aborted() {
      return aborted;
    },
  };
}
