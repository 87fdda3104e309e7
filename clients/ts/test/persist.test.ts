// The durable store (IndexedDB, here fake-indexeddb: an in-memory
// implementation of the IndexedDB spec; the e2e test runs the real one in
// chromium): commits made offline survive the page, live queries start from
// their cached result, a store of another layout or with damaged records is
// replaced or cleaned without losing readable unsent commits, running out
// of space clears the cache and never the outbox (test/quota.ts injects the
// browser's QuotaExceededError), and tabs share one outbox without sending a
// commit twice.
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client, type ClientOptions } from '../src/client.js';
import { FORMAT, indexedDBStore } from '../src/idb.js';
import type { LiveQuery } from '../src/livequery.js';
import type { WireEvent } from '../src/protocol.js';
import { IdGenerator } from '../src/ulid.js';
import { isPending } from '../src/view.js';
import { FakeServer, until } from './fake-server.js';
import { TestLocks } from './locks.js';
import { quotaIDB } from './quota.js';
import { Album, names } from './models.js';

let clients: Client[] = [];
let locks: TestLocks;
const g = globalThis as { navigator?: unknown };
const savedNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');

beforeEach(() => {
  locks = new TestLocks();
  Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true, writable: true });
});

afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
  if (savedNavigator) Object.defineProperty(globalThis, 'navigator', savedNavigator);
  else delete g.navigator;
});

function server(seed: [string, number][] = []) {
  const s = new FakeServer();
  s.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint'], ['rating', 'double precision']]));
  for (const [name, year] of seed) s.sql('album', { name, year });
  return s;
}

function open(s: FakeServer, idb: IDBFactory, more: Partial<ClientOptions> = {}): Client {
  const c = new Client({ url: 'ws://fake/ws', webSocket: s.factory, backoff: { initialMs: 5, maxMs: 10 }, storage: indexedDBStore({ indexedDB: idb }), ...more });
  clients.push(c);
  return c;
}

/** Closes a client as a page that goes away: nothing is answered any more. */
function leave(c: Client): void {
  c.close();
  clients = clients.filter((x) => x !== c);
}

function watch<V extends object>(lq: LiveQuery<V>): () => void {
  return lq.subscribe(() => {});
}

/** Every commit frame any socket of the server received, as event ids. */
function commitsSent(s: FakeServer): string[][] {
  return s.history.flatMap((sock) => sock.sent.filter((f) => f.type === 'commit').map((f) => (f.events as WireEvent[]).map((e) => e.id)));
}

const albumsIn = (s: FakeServer): string =>
  [...s.entities.values()]
    .filter((e) => !e.deleted)
    .map((e) => `${String(e.values.name)} ${String(e.values.year)}`)
    .sort()
    .join(', ');

describe('durable store', () => {
  it('keeps commits made offline across a reload and sends them once the server is back', async () => {
    const s = server([['Showbiz', 1999]]);
    const idb = new IDBFactory();
    const a = open(s, idb);
    const lq = a.query(Album, 'ORDER BY year');
    watch(lq);
    await until(() => lq.get().status === 'live');
    s.down = true;
    s.dropAll();
    await until(() => a.state.get().status === 'reconnecting');
    const created = a.create(Album, { name: 'Drones', year: 2015 });
    void created.catch(() => {}); // the page goes before the answer
    a.update(Album, lq.rows[0]!, { year: 2000 }).catch(() => {});
    expect(names(lq.rows)).toBe('Showbiz, Drones');
    await until(() => a.storage.get().status === 'ready');
    leave(a); // the reload

    const b = open(s, idb);
    const lq2 = b.query(Album, 'ORDER BY year');
    watch(lq2);
    // Offline, the page shows the cached result with the pending writes, at once.
    await until(() => lq2.get().status === 'cached' && lq2.rows.length === 2);
    expect(lq2.rows.map((r) => `${r.name} ${r.year}`)).toEqual(['Showbiz 2000', 'Drones 2015']);
    expect(lq2.rows.every(isPending)).toBe(true);
    s.down = false;
    await until(() => lq2.get().status === 'live' && albumsIn(s) === 'Drones 2015, Showbiz 2000');
    expect(commitsSent(s).length).toBe(2); // each once
    await until(() => !lq2.rows.some(isPending));
    expect(lq2.rows.map((r) => `${r.name} ${r.year}`)).toEqual(['Showbiz 2000', 'Drones 2015']);
  });

  it('resubscribes with the heads it cached, so only what changed comes back', async () => {
    const s = server([['Showbiz', 1999], ['Origin of Symmetry', 2001]]);
    const idb = new IDBFactory();
    const a = open(s, idb);
    const lq = a.query(Album, 'year >= ? ORDER BY year', [1990]);
    watch(lq);
    await until(() => lq.get().status === 'live' && lq.rows.length === 2);
    const showbiz = lq.rows[0]!.id;
    // The cache is written after the change, asynchronously: wait until it is.
    await untilAsync(async () => (await readStore(idb, 'queries')).some((q) => (q as { ids: string[] }).ids.length === 2));
    leave(a);
    s.sql('album', { year: 2000 }, showbiz); // changed while no page was open

    const b = open(s, idb);
    const lq2 = b.query(Album, 'year >= ? ORDER BY year', [1990]);
    const seen: string[] = [];
    lq2.subscribe((snap) => seen.push(`${snap.status}:${snap.rows.map((r) => `${r.name} ${r.year}`).join('/')}`));
    await until(() => lq2.get().status === 'live' && lq2.rows[0]?.year === 2000);
    expect(seen[0]).toBe('loading:');
    expect(seen).toContain('cached:Showbiz 1999/Origin of Symmetry 2001');
    const sub = s.socket.sent.find((f) => f.type === 'subscribe')!;
    expect(Object.keys(sub.known as object).sort()).toEqual(lq2.rows.map((r) => r.id).sort());
    // The server sent Showbiz again (changed) and only its id for the other.
    const res = s.socket.delivered.find((f) => f.type === 'result' && f.id === sub.id)!.result as { entities: { id: string; unchanged?: boolean; values?: object }[] };
    expect(res.entities.map((e) => [e.id === showbiz, e.unchanged === true, e.values !== undefined])).toEqual([
      [true, false, true],
      [false, true, false],
    ]);
    expect(names(lq2.rows)).toBe('Showbiz, Origin of Symmetry');
  });

  it('clears the cache, never the outbox, when the browser refuses more space', async () => {
    const s = server([['Showbiz', 1999]]);
    const idb = new IDBFactory();
    const q = quotaIDB(idb);
    const c = new Client({ url: 'ws://fake/ws', webSocket: s.factory, storage: indexedDBStore({ indexedDB: q.indexedDB }) });
    clients.push(c);
    const lq = c.query(Album, 'ORDER BY year');
    watch(lq);
    await until(() => lq.get().status === 'live');
    await untilAsync(async () => (await readStore(idb, 'entities')).length === 1 && (await readStore(idb, 'queries')).length === 1);
    const showbiz = lq.rows[0]!.id;
    // A commit the server does not answer yet: it waits in the outbox.
    s.holdCommits = true;
    const created = c.create(Album, { name: 'Drones', year: 2015 });
    await untilAsync(async () => (await readStore(idb, 'outbox')).length === 1);

    q.full.add('entities');
    s.sql('album', { year: 2000 }, showbiz); // the client caches the new state: refused
    await until(() => c.storage.get().error?.code === 'storage_full');
    expect(q.aborted).toBeGreaterThan(0);
    expect(c.storage.get()).toMatchObject({ status: 'ready', error: { code: 'storage_full', message: expect.stringContaining('the cache was cleared') } });
    await untilAsync(async () => (await readStore(idb, 'entities')).length === 0);
    expect(await readStore(idb, 'queries')).toEqual([]);
    expect(await readStore(idb, 'outbox')).toHaveLength(1); // never the outbox
    // The page goes on: the change shown, the commit sent and then removed from the outbox.
    expect(lq.rows.map((r) => `${r.name} ${r.year}`)).toEqual(['Showbiz 2000', 'Drones 2015']);
    s.releaseCommits();
    await created;
    expect(albumsIn(s)).toBe('Drones 2015, Showbiz 2000');
    await untilAsync(async () => (await readStore(idb, 'outbox')).length === 0);
  });

  it('keeps a commit it cannot store in memory, says so, and still sends it', async () => {
    const s = server([['Showbiz', 1999]]);
    const idb = new IDBFactory();
    const q = quotaIDB(idb);
    const c = new Client({ url: 'ws://fake/ws', webSocket: s.factory, storage: indexedDBStore({ indexedDB: q.indexedDB }) });
    clients.push(c);
    const lq = c.query(Album, 'ORDER BY year');
    watch(lq);
    await until(() => lq.get().status === 'live' && c.storage.get().status === 'ready');
    q.full.add('outbox');
    s.holdCommits = true;
    const created = c.create(Album, { name: 'Drones', year: 2015 });
    await until(() => c.storage.get().error?.code === 'storage_full');
    expect(c.storage.get().error!.message).toContain('a commit could not be stored: it is kept in memory only');
    expect(c.storage.get().status).toBe('ready');
    expect(await readStore(idb, 'outbox')).toEqual([]);
    expect(lq.rows.filter(isPending).map((r) => r.name)).toEqual(['Drones']); // shown, pending
    s.releaseCommits();
    await created;
    expect(albumsIn(s)).toBe('Drones 2015, Showbiz 1999');
  });

  it('works in memory, saying why, where IndexedDB is missing', async () => {
    const s = server([['Showbiz', 1999]]);
    const c = new Client({ url: 'ws://fake/ws', webSocket: s.factory, storage: indexedDBStore({ indexedDB: undefined as unknown as IDBFactory }) });
    clients.push(c);
    const lq = c.query(Album);
    watch(lq);
    await until(() => lq.get().status === 'live');
    expect(c.storage.get()).toMatchObject({ status: 'memory', error: { code: 'storage_unavailable' } });
    await c.create(Album, { name: 'Drones', year: 2015 });
    expect(albumsIn(s)).toBe('Drones 2015, Showbiz 1999');
  });
});

/** Every record of one object store of the client's database. */
function readStore(idb: IDBFactory, store: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const r = idb.open('ankurah ws://fake/ws');
    r.onsuccess = () => {
      const db = r.result;
      const all = db.transaction(store, 'readonly').objectStore(store).getAll();
      all.onsuccess = () => {
        db.close();
        resolve(all.result);
      };
      all.onerror = () => reject(all.error);
    };
    r.onerror = () => reject(r.error);
  });
}

async function untilAsync(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Runs fn on a database opened at its current version (or created). */
async function raw(idb: IDBFactory, name: string, version: number | undefined, upgrade: (db: IDBDatabase, tx: IDBTransaction) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const r = version === undefined ? idb.open(name) : idb.open(name, version);
    r.onupgradeneeded = () => upgrade(r.result, r.transaction!);
    r.onsuccess = () => {
      r.result.close();
      resolve();
    };
    r.onerror = () => reject(r.error);
  });
}

function event(ids: IdGenerator, name: string, year: number): WireEvent {
  const id = ids.next();
  return { id, collection: 'album', entity_id: id, parents: [], operations: { name, year } };
}

describe('recovery of the store', () => {
  const NAME = 'ankurah ws://fake/ws';

  it('replaces an older layout, carrying over the unsent commits it can read', async () => {
    const s = server();
    const idb = new IDBFactory();
    const ids = new IdGenerator();
    const good = event(ids, 'Drones', 2015);
    // An older layout: another key path, records without owner or schemas, and a damaged one.
    await raw(idb, NAME, 3, (db) => {
      const o = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      o.put({ events: [good] });
      o.put({ events: [{ id: 42 }] });
      db.createObjectStore('cache').put({ whatever: true }, 'x');
    });
    const c = open(s, idb);
    await until(() => albumsIn(s) === 'Drones 2015');
    expect(c.storage.get()).toMatchObject({ status: 'ready', error: { code: 'storage_reset' } });
    expect(c.storage.get().error!.message).toContain('keeping 1 unsent commit(s) and dropping 1 unreadable one(s)');
    // The store now has this version's layout, and the sent commit left it.
    await until(() => c.connection.state.get().status === 'connected');
    leave(c);
    const stores = await new Promise<string[]>((resolve) => {
      const r = idb.open(NAME);
      r.onsuccess = () => {
        const names = Array.from(r.result.objectStoreNames);
        r.result.close();
        resolve(names);
      };
    });
    expect(stores.sort()).toEqual(['entities', 'meta', 'outbox', 'queries']);
  });

  it('replaces a store of a newer format (a downgrade) without a blank page', async () => {
    const s = server([['Showbiz', 1999]]);
    const idb = new IDBFactory();
    await raw(idb, NAME, 1, (db) => {
      db.createObjectStore('meta').put(FORMAT + 1, 'format');
      db.createObjectStore('entities', { keyPath: 'id' });
      db.createObjectStore('queries', { keyPath: 'key' });
      db.createObjectStore('outbox', { keyPath: 'key' });
    });
    const c = open(s, idb);
    const lq = c.query(Album);
    watch(lq);
    await until(() => lq.get().status === 'live' && lq.rows.length === 1);
    expect(c.storage.get()).toMatchObject({ status: 'ready', error: { code: 'storage_reset' } });
  });

  it('drops damaged records of its own layout and goes on', async () => {
    const s = server([['Showbiz', 1999]]);
    const idb = new IDBFactory();
    const ids = new IdGenerator();
    const good = event(ids, 'Drones', 2015);
    const first = open(s, idb); // creates the layout
    await until(() => first.storage.get().status === 'ready');
    leave(first);
    const lq0 = 'album\n\n[]';
    await raw(idb, NAME, 2, (_db, tx) => {
      tx.objectStore('outbox').put({ key: 'k1', owner: 'gone', events: [good], schemas: [] });
      tx.objectStore('outbox').put({ key: 'k2', owner: 'gone', events: 'garbage', schemas: [] });
      tx.objectStore('queries').put({ key: lq0, ids: ['01J00000000000000000000001', '01J00000000000000000000002'], used: 1 });
      tx.objectStore('entities').put({ id: '01J00000000000000000000001', collection: 'album', head: 'not a head', values: {} });
      tx.objectStore('entities').put({ id: '01J00000000000000000000002', collection: 'album', head: ['01J00000000000000000000002'], values: { name: 'Cached', year: 1 } });
    });
    const c = open(s, idb);
    const lq = c.query(Album);
    const seen: string[] = [];
    lq.subscribe((snap) => seen.push(`${snap.status}:${names(snap.rows)}`));
    await until(() => lq.get().status === 'live' && albumsIn(s) === 'Drones 2015, Showbiz 1999');
    // The damaged entity was skipped, the readable one shown until the server answered
    // (Drones, the adopted commit, sorts last: its id is the newest).
    expect(seen).toContain('cached:Cached, Drones');
    expect(c.storage.get()).toMatchObject({ status: 'ready', error: { code: 'storage_reset' } });
    expect(c.storage.get().error!.message).toContain('1 unreadable outbox entries');
    await until(() => [...lq.rows].map((r) => r.name).sort().join() === 'Drones,Showbiz');
  });
});

describe('several tabs', () => {
  it('shows another tab\'s commit at once, sends it from that tab only, and takes it over when that tab closes', async () => {
    const s = server([['Showbiz', 1999]]);
    const idb = new IDBFactory();
    const a = open(s, idb);
    const b = open(s, idb);
    const la = a.query(Album, 'ORDER BY year');
    const lb = b.query(Album, 'ORDER BY year');
    watch(la);
    watch(lb);
    await until(() => la.get().status === 'live' && lb.get().status === 'live');
    await until(() => a.storage.get().status === 'ready' && b.storage.get().status === 'ready');
    s.down = true;
    s.dropAll();
    await until(() => a.state.get().status === 'reconnecting' && b.state.get().status === 'reconnecting');

    void a.create(Album, { name: 'From A', year: 2001 }).catch(() => {});
    void b.create(Album, { name: 'From B', year: 2002 }).catch(() => {});
    // Each tab sees the other's commit before any server does.
    await until(() => names(la.rows) === 'Showbiz, From A, From B' && names(lb.rows) === 'Showbiz, From A, From B');

    s.down = false;
    await until(() => albumsIn(s) === 'From A 2001, From B 2002, Showbiz 1999');
    await until(() => !la.rows.some(isPending) && !lb.rows.some(isPending));
    const sent = commitsSent(s).flat();
    expect(sent.length).toBe(2);
    expect(new Set(sent).size).toBe(2);

    // Offline again; A commits and closes before it could send.
    s.down = true;
    s.dropAll();
    await until(() => a.state.get().status === 'reconnecting' && b.state.get().status === 'reconnecting');
    void a.create(Album, { name: 'Left behind', year: 2003 }).catch(() => {});
    await until(() => lb.rows.some((r) => r.name === 'Left behind'));
    leave(a);
    s.down = false;
    await until(() => albumsIn(s) === 'From A 2001, From B 2002, Left behind 2003, Showbiz 1999');
    await until(() => lb.rows.length === 4 && !lb.rows.some(isPending));
    const all = commitsSent(s).flat();
    expect(all.length).toBe(3); // nothing twice
    expect(new Set(all).size).toBe(3);
  });

  it('sends a commit that builds on another tab\'s pending commit after it', async () => {
    const s = server();
    const idb = new IDBFactory();
    const a = open(s, idb);
    const b = open(s, idb);
    const lb = b.query(Album, 'ORDER BY year');
    watch(lb);
    await until(() => lb.get().status === 'live' && a.storage.get().status === 'ready' && b.storage.get().status === 'ready');
    s.holdCommits = true;
    const created = a.create(Album, { name: 'Drones', year: 2015 });
    await until(() => lb.rows.length === 1);
    const edited = b.update(Album, lb.rows[0]!, { year: 2016 });
    // B waits for A's commit: a request B makes after its commit is
    // answered, and still only A's commit reached the server.
    await until(() => commitsSent(s).length === 1);
    await b.fetch(Album);
    expect(commitsSent(s).length).toBe(1);
    s.releaseCommits();
    await created;
    await edited;
    expect(albumsIn(s)).toBe('Drones 2016');
    expect(commitsSent(s).length).toBe(2);
  });
});
