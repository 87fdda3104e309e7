/**
 * What the core knows of ytext fields (collaborative text, docs/text.md)
 * without loading yjs: their operations are Yjs updates, `{"yjs":
 * "<base64>"}`, which a pending event's state leaves out (the text is the
 * live document's). Everything else is the text entry point's
 * ('@ankurah/client/text', which loads yjs): when it is loaded it installs
 * the hooks below, and from then on the store keeps, per field, the updates
 * that make the confirmed document (the state the server sent, then the
 * updates of the events since), and each client's live documents show in
 * its views. An application that never imports it pays for none of that.
 */
import type { EntityId, JsonValue, WireEntity, WireEvent } from './protocol.js';
import type { EntityState, EntityStore, ServerExtra } from './store.js';

/** A ytext field's operation: a Yjs update (format v1) in standard base64. */
export interface TextOp {
  yjs: string;
}

/** The update of a ytext operation, or undefined for any other value. */
export function textOp(v: JsonValue | undefined): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && typeof v.yjs === 'string' ? v.yjs : undefined;
}

/** A client's live documents, made by the text entry point. */
export interface TextHooks {
  /** A pending state with these ytext fields' texts as their live documents hold them (local edits included). */
  show(s: EntityState, fields: ReadonlySet<string>): EntityState;
  /**
   * The update (base64) that makes the field's text `text` by the smallest
   * edit: of the entity's live document, or of a new one for an entity
   * being created (id null).
   */
  replace(collection: string, id: EntityId | null, field: string, text: string): string | null;
}

/** The confirmed documents of an entity's ytext fields (EntityState.texts). */
export type TextDocs = Readonly<Record<string, readonly string[]>>;

/** What the text entry point installs. */
export interface TextSupport {
  /** Makes a client's live documents (for its transactions and store). */
  hooks(client: unknown): TextHooks;
  /** The documents of a new confirmed state (EntityStore.applyServer), if it has any. */
  confirmed(store: EntityStore, collection: string, cur: EntityState | undefined, w: WireEntity, extra?: ServerExtra): TextDocs | undefined;
  /** The documents of a confirmed state once a local event of it is accepted (EntityStore.settle), if they change. */
  accepted(store: EntityStore, cur: EntityState, e: WireEvent): TextDocs | undefined;
}

let installed: TextSupport | null = null;

/** Called by '@ankurah/client/text' when it is loaded. */
export function installText(s: TextSupport): void {
  installed = s;
}

/** The text entry point's hooks, once it is loaded. */
export function textSupport(): TextSupport | null {
  return installed;
}
