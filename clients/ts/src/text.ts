/**
 * @ankurah/client/text: collaborative text. A ytext field (docs/text.md) is
 * a Yjs document holding one text; here it is a `Y.Text` of the real `yjs`
 * package, so editor bindings (CodeMirror, ProseMirror/Tiptap, Quill
 * through their Yjs bindings, or a plain textarea) work on it:
 *
 *     import { textOf } from '@ankurah/client/text';
 *     const notes = textOf(client, Album, album, 'notes'); // a Y.Text
 *     notes.insert(0, 'Recorded in 2001. ');
 *
 * Every local change of the Y.Text becomes an event of its own (a
 * transaction with that change's Yjs update), shown at once, kept in the
 * outbox while offline and sent like any other commit; changes from others
 * arrive as the events' updates and are applied to the document as
 * incremental updates, never as a replacement of the whole text. A view
 * shows the text as a string; assigning a string to the field in a
 * transaction records the smallest edit that makes it.
 *
 * yjs is a peer dependency: an application that edits text installs it
 * (one copy per application, as Yjs requires — its editor bindings must
 * share it), and one that does not import this entry point never loads it.
 */
import * as Y from 'yjs';
import type { Client } from './client.js';
import { AnkurahError, ClientCodes } from './errors.js';
import type { FieldSpec, Model, View } from './model.js';
import type { EntityId } from './protocol.js';
import type { EntityState, StoreChange } from './store.js';
import { installText, textOp, type TextHooks, type TextDocs } from './textcore.js';

/** The origin of the updates this module applies (from the server, from other tabs): not local edits. */
const REMOTE = Symbol('ankurah');

/** How many confirmed updates of a document are kept before they are merged into one. */
const COMPACT_AFTER = 64;

interface Entry {
  readonly id: EntityId;
  readonly field: string;
  readonly model: Model<object>;
  doc: Y.Doc;
  text: Y.Text;
  /** Updates (base64) applied to doc. */
  applied: Set<string>;
  /** The server was asked for the document (it held the text without all of it). */
  fetching: boolean;
  readonly replaced: Set<(t: Y.Text) => void>;
}

class Texts implements TextHooks {
  readonly #entries = new Map<EntityId, Map<string, Entry>>();

  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
    client.store.onChange((c) => this.#sync(c));
  }

  entry(model: Model<object>, id: EntityId, field: string): Entry {
    let byField = this.#entries.get(id);
    let e = byField?.get(field);
    if (e) return e;
    if (!byField) this.#entries.set(id, (byField = new Map()));
    e = this.#make(model, id, field, new Set());
    byField.set(field, e);
    this.#catchUp(e);
    return e;
  }

  #make(model: Model<object>, id: EntityId, field: string, replaced: Set<(t: Y.Text) => void>): Entry {
    const doc = new Y.Doc();
    const e: Entry = { id, field, model, doc, text: doc.getText('text'), applied: new Set(), fetching: false, replaced };
    doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE && e.doc === doc) this.#local(e, u);
    });
    return e;
  }

  /** A local change of the document: an event of its own, shown at once and sent. */
  #local(e: Entry, update: Uint8Array): void {
    const b64 = toBase64(update);
    e.applied.add(b64);
    const tx = this.#client.begin();
    tx.applyTextUpdate(e.model as Model<Record<string, unknown>>, e.id, e.field, b64);
    // A refusal rolls the store back, and sync rebuilds the document.
    tx.commit().catch(() => {});
  }

  /** Applies the confirmed updates and the pending events' updates the document lacks. */
  #catchUp(e: Entry): void {
    const store = this.#client.store;
    const st = store.confirmedState(e.id);
    const list = st?.texts?.[e.field] ?? [];
    const fields = store.textFields(e.model.collection);
    const pending: string[] = [];
    for (const ev of store.pendingEvents(e.id)) {
      const u = fields.has(e.field) ? textOp(ev.operations[e.field]) : undefined;
      if (u !== undefined) pending.push(u);
    }
    const todo = [...list, ...pending].filter((u) => !e.applied.has(u));
    if (todo.length > 0) {
      e.doc.transact(() => {
        for (const u of todo) {
          Y.applyUpdate(e.doc, fromBase64(u), REMOTE);
          e.applied.add(u);
        }
      }, REMOTE);
    }
    if (list.length > COMPACT_AFTER && st) {
      const merged = toBase64(Y.mergeUpdates(list.map(fromBase64)));
      e.applied.add(merged);
      store.compactText(e.id, e.field, list, merged);
    }
    // A text held without all of its document (a change that entered a
    // result set without it): ask the server for it, once per state.
    if (st && pending.length === 0 && !e.fetching) {
      const want = typeof st.values[e.field] === 'string' ? st.values[e.field] : '';
      if (e.text.toString() !== want && !st.deleted) {
        e.fetching = true;
        this.#client.refresh(e.model, [e.id]).then(
          () => void (e.fetching = false),
          () => void (e.fetching = false),
        );
      }
    }
  }

  #sync(c: StoreChange): void {
    for (const id of c.rolledBack) {
      // A refused edit cannot be taken out of a Yjs document: make the
      // document again from what is confirmed and still pending.
      for (const [field, e] of this.#entries.get(id) ?? []) {
        const fresh = this.#make(e.model, id, field, e.replaced);
        this.#entries.get(id)!.set(field, fresh);
        this.#catchUp(fresh);
        e.doc.destroy();
        for (const fn of [...fresh.replaced]) fn(fresh.text);
      }
    }
    for (const id of c.ids) {
      for (const e of this.#entries.get(id)?.values() ?? []) this.#catchUp(e);
    }
  }

  show(s: EntityState, fields: ReadonlySet<string>): EntityState {
    const model = this.#client.modelOf(s.collection);
    if (!model) return s;
    const values = { ...s.values };
    for (const f of fields) values[f] = this.entry(model, s.id, f).text.toString();
    return { ...s, values };
  }

  replace(collection: string, id: EntityId | null, field: string, text: string): string | null {
    const model = this.#client.modelOf(collection);
    const scratch = new Y.Doc();
    if (id !== null && model) Y.applyUpdate(scratch, Y.encodeStateAsUpdate(this.entry(model, id, field).doc));
    const t = scratch.getText('text');
    const old = t.toString();
    if (old === text) return null;
    let update: Uint8Array | null = null;
    scratch.on('update', (u: Uint8Array) => (update = u));
    const [pos, del, ins] = smallestEdit(old, text);
    scratch.transact(() => {
      if (del > 0) t.delete(pos, del);
      if (ins !== '') t.insert(pos, ins);
    });
    scratch.destroy();
    return update === null ? null : toBase64(update);
  }

  onReplaced(id: EntityId, field: string, fn: (t: Y.Text) => void, model: Model<object>): () => void {
    const e = this.entry(model, id, field);
    e.replaced.add(fn);
    return () => e.replaced.delete(fn);
  }
}

installText({
  hooks: (client) => new Texts(client as Client),

  // The documents of a new confirmed state: the server's where it sent
  // them, else the ones held brought along by the events' updates
  // (catchUp checks them against the text and fetches the document when
  // they do not make it).
  confirmed(store, collection, cur, w, extra) {
    const fields = store.textFields(collection);
    if (!cur?.texts && !extra?.texts && !w.yjs && (fields.size === 0 || !extra?.events)) return undefined;
    const out: Record<string, readonly string[]> = { ...cur?.texts, ...extra?.texts };
    for (const [f, s] of Object.entries(w.yjs ?? {})) out[f] = [s];
    for (const e of extra?.events ?? []) {
      if (e.entity_id !== w.id) continue;
      for (const [f, v] of Object.entries(e.operations)) {
        const u = fields.has(f) && !w.yjs?.[f] ? textOp(v) : undefined;
        if (u !== undefined) out[f] = withUpdate(out[f], u);
      }
    }
    return out;
  },

  // A confirmed commit's result comes without the documents its events
  // made: their updates join the confirmed documents.
  accepted(store, cur, e) {
    const fields = store.textFields(e.collection);
    let texts: TextDocs | undefined = cur.texts;
    for (const [f, v] of Object.entries(e.operations)) {
      const u = fields.has(f) ? textOp(v) : undefined;
      if (u !== undefined) texts = { ...texts, [f]: withUpdate(texts?.[f], u) };
    }
    return texts !== cur.texts ? texts : undefined;
  },
});

/** A document's updates with u added (once). */
function withUpdate(list: readonly string[] | undefined, u: string): readonly string[] {
  if (!list) return [u];
  return list.includes(u) ? list : [...list, u];
}

const texts = new WeakMap<Client, Texts>();

function textsOf(client: Client): Texts {
  let t = texts.get(client);
  if (!t) {
    const hooks = client.text();
    if (!(hooks instanceof Texts)) throw new AnkurahError(ClientCodes.usage, 'the client has another text implementation');
    t = hooks;
    texts.set(client, t);
  }
  return t;
}

function checkField(model: Model<object>, field: string): void {
  const spec = (model.fields as Record<string, FieldSpec | undefined>)[field];
  if (spec?.type !== 'ytext') {
    throw new AnkurahError(ClientCodes.usage, `${model.collection}.${field} is ${spec ? spec.type : 'not a field'}, not ytext`);
  }
}

/**
 * The Y.Text of an entity's ytext field (from a view, or by id; the client
 * must hold the entity: query it first). The same object until an edit the
 * server refused is rolled back (see onTextReplaced). Its changes are
 * committed as they are made.
 */
export function textOf<V extends object>(client: Client, model: Model<V>, target: View<V> | EntityId, field: keyof V & string): Y.Text {
  checkField(model as Model<object>, field);
  const id = typeof target === 'string' ? target : target.id;
  return textsOf(client).entry(model as Model<object>, id, field).text;
}

/**
 * Calls fn with a new Y.Text when the field's document is made again: after
 * the server refused one of this client's edits, which a Yjs document cannot
 * take back. Returns the function that stops it.
 */
export function onTextReplaced<V extends object>(client: Client, model: Model<V>, target: View<V> | EntityId, field: keyof V & string, fn: (text: Y.Text) => void): () => void {
  checkField(model as Model<object>, field);
  const id = typeof target === 'string' ? target : target.id;
  return textsOf(client).onReplaced(id, field, fn, model as Model<object>);
}

/**
 * The smallest edit from a to b as one deletion and one insertion between
 * their longest common prefix and suffix, in UTF-16 positions (Yjs's), never
 * splitting a surrogate pair: [position, deleted length, inserted text].
 */
export function smallestEdit(a: string, b: string): [number, number, string] {
  let p = 0;
  while (p < a.length && p < b.length && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  if (p > 0 && isHigh(a.charCodeAt(p - 1))) p--;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  if (s > 0 && isLow(a.charCodeAt(a.length - s))) s--;
  return [p, a.length - p - s, b.slice(p, b.length - s)];
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
