/**
 * What a durable local store keeps for a client, and the checks every
 * record read back must pass: a record that fails them (a corrupted store, a
 * layout this version does not know) is dropped, never trusted.
 */
import type { AnkurahError } from './errors.js';
import type { EntityId, WireCollection, WireEvent, WireValues } from './protocol.js';

/** A transaction the server has not confirmed yet. */
export interface OutboxEntry {
  /** A ULID made at commit time: commits are sent in key order. */
  readonly key: string;
  /** The tab that sends it (the others show it and wait). */
  readonly owner: string;
  readonly events: readonly WireEvent[];
  /** The schemas of its collections, registered before it is sent. */
  readonly schemas: readonly WireCollection[];
}

/** An entity state the server confirmed. */
export interface StoredEntity {
  readonly id: EntityId;
  readonly collection: string;
  readonly head: readonly string[];
  readonly values: Readonly<WireValues>;
  /** The confirmed Yjs documents of ytext fields (EntityState.texts). */
  readonly texts?: Readonly<Record<string, readonly string[]>> | undefined;
}

/**
 * A durable store for the client's cache and outbox (`indexedDBStore()` is
 * the one for browsers). Writes are fire-and-forget except the outbox's;
 * problems are reported through `report`, never thrown at the application.
 */
export interface LocalStore {
  /** Opens the store (name: a default derived from the server's address); resolves with every tab's outbox. */
  open(name: string, report: (err: AnkurahError) => void): Promise<OutboxEntry[]>;
  /** The name the store was opened with (tabs of one store share its outbox). */
  readonly name: string;
  /** A live query's last confirmed members and their states. */
  loadQuery(key: string): Promise<{ ids: EntityId[]; states: StoredEntity[] } | undefined>;
  saveQuery(key: string, ids: readonly EntityId[]): void;
  /** Keeps confirmed states (a state older than the one stored is ignored); ids in `gone` are deleted. */
  saveStates(states: readonly StoredEntity[], gone: readonly EntityId[]): void;
  putOutbox(e: OutboxEntry): Promise<void>;
  deleteOutbox(key: string): Promise<void>;
  /** Takes over the entries of a tab that is gone; resolves with them. */
  adopt(owner: string, to: string): Promise<OutboxEntry[]>;
  close(): void;
}

const isStr = (x: unknown): x is string => typeof x === 'string';
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isStrs = (x: unknown): x is string[] => Array.isArray(x) && x.every(isStr);

export function validEvent(e: unknown): e is WireEvent {
  return isObj(e) && isStr(e.id) && isStr(e.collection) && isStr(e.entity_id) && isStrs(e.parents) && isObj(e.operations);
}

export function validEntity(e: unknown): e is StoredEntity {
  return isObj(e) && isStr(e.id) && isStr(e.collection) && isStrs(e.head) && e.head.length > 0 && isObj(e.values) &&
    (e.texts === undefined || (isObj(e.texts) && Object.values(e.texts).every(isStrs)));
}

export function validOutbox(e: unknown): e is OutboxEntry {
  return (
    isObj(e) &&
    isStr(e.key) &&
    isStr(e.owner) &&
    Array.isArray(e.events) &&
    e.events.length > 0 &&
    e.events.every(validEvent) &&
    Array.isArray(e.schemas) &&
    e.schemas.every((c) => isObj(c) && isStr(c.name) && Array.isArray(c.fields))
  );
}

export function validQuery(q: unknown): q is { key: string; ids: string[]; used: number } {
  return isObj(q) && isStr(q.key) && isStrs(q.ids);
}
