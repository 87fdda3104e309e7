/**
 * The client's entity cache: the last state the server confirmed for each
 * entity the client watches, and on top of it the events of local
 * transactions that the server has not answered yet. `visible(id)` is what
 * the application sees — confirmed state with pending events applied — so a
 * commit shows up at once (optimistically) and the server's answer replaces
 * the guess: a confirmed commit's result becomes the new confirmed state, a
 * refused one simply disappears from the overlay.
 */
import type { EntityId, EventId, JsonValue, WireEntity, WireEvent, WireValues } from './protocol.js';
import { textOp, textSupport, type TextHooks, type TextDocs } from './textcore.js';

/** An entity's state as the client holds it. */
export interface EntityState {
  readonly id: EntityId;
  readonly collection: string;
  /** The latest event ids (for a pending local edit: that edit's id). */
  readonly head: readonly EventId[];
  /** Non-NULL field values in their wire form. */
  readonly values: Readonly<WireValues>;
  readonly deleted: boolean;
  /** Local events not yet answered by the server are applied. */
  readonly pending: boolean;
  /**
   * The confirmed Yjs document of each ytext field, as Yjs updates in
   * base64: the document the server sent, then the updates of the events
   * that followed (kept once '@ankurah/client/text' is loaded). Absent for
   * an entity without ytext fields.
   */
  readonly texts?: TextDocs | undefined;
}

/** Extra input of EntityStore.applyServer. */
export interface ServerExtra {
  /** The events that made the state (a change item's): their ytext updates bring the documents along. */
  readonly events?: readonly WireEvent[] | undefined;
  /** Documents kept with the state (the durable cache's copy). */
  readonly texts?: TextDocs | undefined;
}

/** What changed in one notification. */
export interface StoreChange {
  /** Entities whose visible state changed. */
  readonly ids: ReadonlySet<EntityId>;
  /** Entities whose local transaction the server accepted … */
  readonly confirmed: readonly EntityId[];
  /** … or refused. */
  readonly rolledBack: readonly EntityId[];
}

/**
 * A key that orders the heads of one entity by age. An event's id is larger
 * than its parents', so each event applied replaces ids in the head by a
 * larger one (or adds one): the head's ids, sorted from the largest, only grow
 * in this order, a longer head beating its own prefix (ids have one length, so
 * comparing the joined ids compares them one by one). The largest id alone is
 * not enough: two states after concurrent edits often share it.
 */
export const headKey = (head: readonly EventId[]): string => [...head].sort().reverse().join();

function applyEvent(base: EntityState | undefined, e: WireEvent, textFields: ReadonlySet<string>, texts: Set<string>): EntityState | undefined {
  if (e.delete) {
    return base && { ...base, head: [e.id], deleted: true, pending: true };
  }
  const creation = e.parents.length === 0 && e.id === e.entity_id;
  if (!base && !creation) return undefined; // an edit of an entity we no longer hold
  const values: WireValues = creation ? {} : { ...base!.values };
  for (const [k, v] of Object.entries(e.operations)) {
    if (textFields.has(k) && textOp(v) !== undefined) {
      texts.add(k); // a Yjs update: the text is the live document's (EntityStore.visible)
      continue;
    }
    if (v === null) delete values[k];
    else values[k] = v;
  }
  return { id: e.entity_id, collection: e.collection, head: [e.id], values, deleted: base?.deleted ?? false, pending: true };
}

function sameState(s: EntityState, w: WireEntity | EntityState): boolean {
  return s.deleted === (w.deleted === true) && s.head.join() === w.head.join() && jsonEqual(s.values, w.values ?? {});
}

/** Deep equality of JSON values (object key order does not matter). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

const noFields: ReadonlySet<string> = new Set();

export class EntityStore {
  readonly #confirmed = new Map<EntityId, EntityState>();
  /** Pending transactions in key order (keys are ULIDs: the order they were made in, across tabs). */
  readonly #pending: { tx: string; events: readonly WireEvent[] }[] = [];
  /** Entity id → number of pending events touching it. */
  readonly #pendingCount = new Map<EntityId, number>();
  readonly #visibleCache = new Map<EntityId, EntityState | undefined>();
  /** Entities whose visible state must be recomputed (the old one is kept to reuse if equal). */
  readonly #stale = new Set<EntityId>();
  /** Entity id → how many holders (live queries) keep it. */
  readonly #refs = new Map<EntityId, number>();
  readonly #listeners = new Set<(c: StoreChange) => void>();

  /** The ytext fields of a collection (the client sets it from its models). */
  textFields: (collection: string) => ReadonlySet<string> = () => noFields;
  /** The live documents, once the text entry point is loaded. */
  text: TextHooks | null = null;

  #depth = 0;
  #changed = new Set<EntityId>();
  #confirmedIds: EntityId[] = [];
  #rolledBackIds: EntityId[] = [];

  /** Calls fn for every batch of changes. */
  onChange(fn: (c: StoreChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Groups the changes fn makes into one notification. */
  batch<R>(fn: () => R): R {
    this.#depth++;
    try {
      return fn();
    } finally {
      if (--this.#depth === 0) this.#flush();
    }
  }

  #flush(): void {
    while (this.#changed.size > 0 || this.#confirmedIds.length > 0 || this.#rolledBackIds.length > 0) {
      const change: StoreChange = { ids: this.#changed, confirmed: this.#confirmedIds, rolledBack: this.#rolledBackIds };
      this.#changed = new Set();
      this.#confirmedIds = [];
      this.#rolledBackIds = [];
      this.#depth++; // listeners may change more; deliver that as a next round
      try {
        for (const fn of [...this.#listeners]) fn(change);
      } finally {
        this.#depth--;
      }
      for (const id of [...change.confirmed, ...change.rolledBack]) this.#evictIfUnused(id);
    }
  }

  #touch(id: EntityId): void {
    this.#stale.add(id);
    this.#changed.add(id);
  }

  /** The state the application sees, or undefined when the entity is not held. */
  visible(id: EntityId): EntityState | undefined {
    const old = this.#visibleCache.get(id);
    if (!this.#stale.has(id) && (old || this.#visibleCache.has(id))) return old;
    this.#stale.delete(id);
    let s = this.#confirmed.get(id);
    if (this.#pendingCount.has(id)) {
      const texts = new Set<string>();
      for (const p of this.#pending) {
        for (const e of p.events) {
          if (e.entity_id !== id) continue;
          s = applyEvent(s, e, this.textFields(e.collection), texts);
        }
      }
      if (s && texts.size > 0 && this.text) s = this.text.show(s, texts);
    }
    // Keep the old object when nothing visible changed, so that views (and
    // React renders) keep their identity, e.g. when the echo of our own
    // commit arrives before its answer.
    if (old && s && old.pending === s.pending && sameState(old, s)) s = old;
    this.#visibleCache.set(id, s);
    return s;
  }

  /** The last state the server confirmed. */
  confirmedState(id: EntityId): EntityState | undefined {
    return this.#confirmed.get(id);
  }

  /**
   * Takes a state from the server unless it is older than the one held. The
   * largest id in a head never decreases as an entity evolves (every new
   * event is greater than the parents it replaces), so a state whose largest
   * head id is smaller is stale — e.g. a replicated change that arrives
   * after the result of a later commit.
   */
  applyServer(w: WireEntity, collection: string, extra?: ServerExtra): void {
    if (w.unchanged) return;
    const cur = this.#confirmed.get(w.id);
    if (cur && headKey(w.head) < headKey(cur.head)) {
      // Its values are stale, but the Yjs updates its events carry are not:
      // the documents take them (merging an update twice changes nothing).
      const texts = extra?.events && textSupport()?.confirmed(this, cur.collection, cur, { id: w.id, head: w.head }, extra);
      if (texts) {
        this.batch(() => {
          this.#confirmed.set(w.id, { ...cur, texts });
          this.#touch(w.id);
        });
      }
      return;
    }
    if (cur && sameState(cur, w) && !w.yjs) return; // e.g. the echo of our own confirmed commit: keep the same object
    const coll = w.collection ?? cur?.collection ?? collection;
    const next: EntityState = {
      id: w.id,
      collection: coll,
      head: w.head,
      values: w.values ?? {},
      deleted: w.deleted === true,
      pending: false,
    };
    const texts = textSupport()?.confirmed(this, coll, cur, w, extra);
    if (texts) (next as { texts?: TextDocs }).texts = texts;
    this.batch(() => {
      this.#confirmed.set(w.id, next);
      this.#touch(w.id);
    });
  }

  /** Replaces a confirmed document's updates by one that merges them (the text entry point compacts them). */
  compactText(id: EntityId, field: string, from: readonly string[], merged: string): void {
    const cur = this.#confirmed.get(id);
    if (!cur || cur.texts?.[field] !== from) return;
    this.#confirmed.set(id, { ...cur, texts: { ...cur.texts, [field]: [merged] } });
  }

  /** Adds a local transaction's events to the overlay. */
  addPending(tx: string, events: readonly WireEvent[]): void {
    this.batch(() => {
      let i = this.#pending.length;
      while (i > 0 && this.#pending[i - 1]!.tx > tx) i--;
      this.#pending.splice(i, 0, { tx, events });
      for (const e of events) {
        this.#pendingCount.set(e.entity_id, (this.#pendingCount.get(e.entity_id) ?? 0) + 1);
        this.#touch(e.entity_id);
      }
    });
  }

  /** Removes a transaction from the overlay once the server has answered it. */
  settle(tx: string, accepted: boolean): void {
    const i = this.#pending.findIndex((p) => p.tx === tx);
    if (i < 0) return;
    const [p] = this.#pending.splice(i, 1);
    this.batch(() => {
      // A confirmed commit's result comes without the documents its
      // events made: the text entry point adds their updates.
      for (const e of accepted ? p!.events : []) {
        const cur = this.#confirmed.get(e.entity_id);
        const texts = cur && textSupport()?.accepted(this, cur, e);
        if (texts) this.#confirmed.set(e.entity_id, { ...cur, texts });
      }
      for (const e of p!.events) {
        const n = (this.#pendingCount.get(e.entity_id) ?? 1) - 1;
        if (n === 0) this.#pendingCount.delete(e.entity_id);
        else this.#pendingCount.set(e.entity_id, n);
        this.#touch(e.entity_id);
        (accepted ? this.#confirmedIds : this.#rolledBackIds).push(e.entity_id);
      }
    });
  }

  /** The events of pending local transactions that touch an entity, oldest first. */
  pendingEvents(id: EntityId): WireEvent[] {
    const out: WireEvent[] = [];
    if (!this.#pendingCount.has(id)) return out;
    for (const p of this.#pending) for (const e of p.events) if (e.entity_id === id) out.push(e);
    return out;
  }

  /** Entities of the collection with pending local events. */
  pendingIds(collection: string): EntityId[] {
    const out: EntityId[] = [];
    for (const id of this.#pendingCount.keys()) if (this.visible(id)?.collection === collection) out.push(id);
    return out;
  }

  /** Keeps an entity's state while a holder needs it. */
  retain(id: EntityId): void {
    this.#refs.set(id, (this.#refs.get(id) ?? 0) + 1);
  }

  release(id: EntityId): void {
    const n = (this.#refs.get(id) ?? 1) - 1;
    if (n > 0) {
      this.#refs.set(id, n);
      return;
    }
    this.#refs.delete(id);
    this.#evictIfUnused(id);
  }

  #evictIfUnused(id: EntityId): void {
    if (this.#refs.has(id) || this.#pendingCount.has(id)) return;
    this.#confirmed.delete(id);
    this.#visibleCache.delete(id);
    this.#stale.delete(id);
  }

  /** The number of entities held (for tests and diagnostics). */
  get size(): number {
    return this.#confirmed.size;
  }
}
