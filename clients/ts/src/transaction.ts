/**
 * Transactions: create, edit and delete entities through typed mutables,
 * then commit. Each touched entity becomes one event — a creation (whose id
 * is the new entity's id), an edit whose parents are the head the edit
 * started from, or a tombstone — with an id greater than its parents'. The
 * client shows the commit at once and replaces it with the server's answer.
 */
import { AnkurahError, ClientCodes } from './errors.js';
import { decodeField, encodeField, type FieldSpec, type Model, type Mutable, type View } from './model.js';
import type { EntityId, EventId, JsonValue, WireEvent, WireValues } from './protocol.js';
import { jsonEqual, type EntityStore } from './store.js';
import type { TextHooks } from './textcore.js';
import type { IdGenerator } from './ulid.js';
import { metaOf } from './view.js';

/** What a transaction needs from its client. */
export interface TransactionHost {
  readonly ids: IdGenerator;
  readonly store: EntityStore;
  /** Shows the events optimistically and sends them; resolves with the resulting views. */
  submit(events: WireEvent[], models: ReadonlyMap<EntityId, Model<object>>): Promise<View<object>[]>;
  /** The live documents of ytext fields, when '@ankurah/client/text' is loaded. */
  text(): TextHooks | null;
}

/** One entity touched by a transaction. */
class Work {
  readonly ops = new Map<string, JsonValue>();
  /** New texts assigned to ytext fields: made into Yjs updates at commit. */
  readonly texts = new Map<string, string>();
  deleted = false;
  declare mutable: object | undefined;

  constructor(
    readonly model: Model<object>,
    readonly id: EntityId,
    readonly creation: boolean,
    readonly parents: readonly EventId[],
    readonly base: Readonly<WireValues>,
  ) {}

  get(field: string): unknown {
    const spec = this.#spec(field);
    if (this.texts.has(field)) return this.texts.get(field);
    return decodeField(spec, this.ops.has(field) ? this.ops.get(field) : this.base[field]);
  }

  set(field: string, v: unknown): void {
    if (this.deleted) throw new AnkurahError(ClientCodes.usage, `entity ${this.id} is deleted in this transaction`);
    const spec = this.#spec(field);
    if (spec.type === 'ytext') {
      // Collaborative text: the smallest edit that makes this text, made
      // into a Yjs update at commit (from the document as it is then).
      if (typeof v !== 'string') throw new AnkurahError(ClientCodes.usage, `field ${field} (ytext) holds text, not ${typeof v}`);
      this.texts.set(field, v);
      return;
    }
    this.ops.set(field, encodeField(field, spec, v));
  }

  #spec(field: string): FieldSpec {
    const spec = (this.model.fields as Record<string, FieldSpec>)[field];
    if (!spec) throw new AnkurahError(ClientCodes.usage, `${this.model.collection} has no field ${field}`);
    return spec;
  }
}

/** One mutable class per model: an accessor pair for each field. */
const mutableClasses = new WeakMap<Model<object>, new (w: Work) => object>();

function mutableFor(w: Work): object {
  let C = mutableClasses.get(w.model);
  if (!C) {
    class M {
      constructor(readonly $work: Work) {}
      get id(): EntityId {
        return this.$work.id;
      }
    }
    for (const field of Object.keys(w.model.fields)) {
      Object.defineProperty(M.prototype, field, {
        enumerable: true,
        get(this: M) {
          return this.$work.get(field);
        },
        set(this: M, v: unknown) {
          this.$work.set(field, v);
        },
      });
    }
    C = M;
    mutableClasses.set(w.model, C);
  }
  return new C(w);
}

export class Transaction {
  readonly #work = new Map<EntityId, Work>();
  #done = false;

  readonly #host: TransactionHost;

  constructor(host: TransactionHost) {
    this.#host = host;
  }

  /** Creates an entity; the returned mutable already has its id. */
  create<V extends object>(model: Model<V>, values: Partial<V> = {}): Mutable<V> {
    this.#open();
    const w = new Work(model as Model<object>, this.#host.ids.next(), true, [], {});
    this.#work.set(w.id, w);
    for (const [k, v] of Object.entries(values)) if (v !== undefined) w.set(k, v);
    return this.#mutable(w) as Mutable<V>;
  }

  /** Edits an entity the client holds (a view, or its id). Assignments become operations. */
  edit<V extends object>(model: Model<V>, target: View<V> | EntityId): Mutable<V> {
    return this.#mutable(this.#touch(model as Model<object>, target)) as Mutable<V>;
  }

  /** Sets several fields at once. */
  update<V extends object>(model: Model<V>, target: View<V> | EntityId, patch: Partial<V>): Mutable<V> {
    const m = this.edit(model, target);
    Object.assign(m, patch);
    return m;
  }

  /** Deletes an entity (a tombstone event; its history stays). */
  delete<V extends object>(model: Model<V>, target: View<V> | EntityId): void {
    const w = this.#touch(model as Model<object>, target);
    w.ops.clear();
    w.deleted = true;
  }

  /** Sends the transaction; resolves with the views of the entities as the server stored them. */
  commit(): Promise<View<object>[]> {
    this.#open();
    this.#done = true;
    const events: WireEvent[] = [];
    const models = new Map<EntityId, Model<object>>();
    for (const w of this.#work.values()) {
      if (w.creation && w.deleted) continue; // created and deleted here: nothing happened
      if (!w.deleted) this.#textOps(w);
      // As in Go's node.Tx, only fields that differ from the state the edit
      // started from become operations: an unchanged field must not take
      // part in (and win) a merge with a concurrent edit of it.
      const ops = w.creation ? w.ops : new Map([...w.ops].filter(([k, v]) => !jsonEqual(v, w.base[k] ?? null)));
      if (!w.creation && !w.deleted && ops.size === 0) continue;
      const e: WireEvent = {
        id: w.creation ? w.id : this.#host.ids.next(w.parents),
        collection: w.model.collection,
        entity_id: w.id,
        parents: [...w.parents],
        operations: Object.fromEntries(ops),
      };
      if (w.deleted) e.delete = true;
      events.push(e);
      models.set(w.id, w.model);
    }
    if (events.length === 0) return Promise.resolve([]);
    return this.#host.submit(events, models);
  }

  /**
   * Adds a Yjs update (base64) of a ytext field to the transaction: how
   * '@ankurah/client/text' records the edits made to a live Y.Text.
   */
  applyTextUpdate<V extends object>(model: Model<V>, target: View<V> | EntityId, field: keyof V & string, update: string): void {
    const w = this.#touch(model as Model<object>, target);
    if (w.ops.has(field)) throw new AnkurahError(ClientCodes.usage, `${field} already has an update in this transaction`);
    w.ops.set(field, { yjs: update });
  }

  /** The Yjs updates of the texts assigned to ytext fields. */
  #textOps(w: Work): void {
    for (const [field, s] of w.texts) {
      const text = this.#host.text();
      if (!text) throw new AnkurahError(ClientCodes.usage, `${w.model.collection}.${field} is ytext: import '@ankurah/client/text' to edit it`);
      const u = text.replace(w.model.collection, w.creation ? null : w.id, field, s);
      if (u !== null) w.ops.set(field, { yjs: u });
    }
  }

  /** Abandons the transaction. */
  rollback(): void {
    this.#done = true;
  }

  #open(): void {
    if (this.#done) throw new AnkurahError(ClientCodes.usage, 'this transaction is already committed or rolled back');
  }

  /**
   * Starts editing an entity. From a view, the edit starts from the version
   * the view shows (its head becomes the parents and its values the base
   * that unchanged fields are compared with), so an edit made in a form
   * opened before a concurrent change merges with that change instead of
   * silently reverting it. From an id, it starts from the latest state held.
   */
  #touch(model: Model<object>, target: View<object> | EntityId): Work {
    this.#open();
    const id = typeof target === 'string' ? target : target.id;
    const existing = this.#work.get(id);
    if (existing) return existing;
    const state = this.#host.store.visible(id);
    if (state?.deleted) throw new AnkurahError(ClientCodes.usage, `${model.collection} ${id} is deleted`);
    const from = typeof target === 'string' ? state : metaOf(target);
    if (!from) throw new AnkurahError(ClientCodes.usage, `${model.collection} ${id} is not held here: query it first`);
    const w = new Work(model, id, false, from.head, from.values);
    this.#work.set(id, w);
    return w;
  }

  #mutable(w: Work): object {
    w.mutable ??= mutableFor(w);
    return w.mutable;
  }
}
