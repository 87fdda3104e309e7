/**
 * What the core knows of ytext fields (collaborative text, docs/text.md)
 * without loading yjs: their operations are Yjs updates, `{"yjs":
 * "<base64>"}`; the store keeps, per field, the updates that make the
 * confirmed document (the state the server sent, then the updates of the
 * events since); and the text entry point ('@ankurah/client/text', which
 * loads yjs) installs the hooks below, which hold the live documents.
 * An application without ytext fields never loads yjs.
 */
import type { EntityId, JsonValue } from './protocol.js';

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

/** What the text entry point provides to the core. */
export interface TextHooks {
  /** The text of an entity's ytext field as its live document holds it (local edits included), if one can be made. */
  live(collection: string, id: EntityId, field: string): string | undefined;
  /**
   * The update (base64) that makes the field's text `text` by the smallest
   * edit: of the entity's live document, or of a new one for an entity
   * being created (id null).
   */
  replace(collection: string, id: EntityId | null, field: string, text: string): string | null;
}

/** Made by the text entry point for each client (its transactions and store). */
export type TextHooksFactory = (host: unknown) => TextHooks;

let factory: TextHooksFactory | null = null;

/** Called by '@ankurah/client/text' when it is loaded. */
export function installText(f: TextHooksFactory): void {
  factory = f;
}

/** The installed factory, if the text entry point is loaded. */
export function textFactory(): TextHooksFactory | null {
  return factory;
}
