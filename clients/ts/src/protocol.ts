/**
 * The frames of Ankurah's wire protocol, version 1 (docs/protocol.md), as
 * TypeScript types. Nothing here has behaviour: it is the contract the rest
 * of the client is written against, kept in one place so that a change of
 * the protocol is a change of one file.
 */

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/** An entity or event id: a ULID, 26 uppercase Crockford base32 characters. */
export type EntityId = string;

/** An event id (the same alphabet as entity ids). */
export type EventId = string;

/** Any JSON value: what `jsonb` fields hold and what values look like on the wire. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Field values as they travel: field name → JSON value. An absent field is NULL. */
export type WireValues = Record<string, JsonValue>;

/** An entity's state on the wire. */
export interface WireEntity {
  id: EntityId;
  collection?: string;
  head: EventId[];
  values?: WireValues;
  /** Only in commit results and `remove` items: the entity was deleted. */
  deleted?: boolean;
  /** Only in subscription results: "you already hold this entity at this head". */
  unchanged?: boolean;
  /**
   * The Yjs documents of ytext fields: field → the document's state (a Yjs
   * update, format v1) in base64. Sent with results and with change items
   * that carry no events or add the entity; otherwise the events' updates
   * ({"yjs": "<base64>"} operations) bring a held document up to date.
   */
  yjs?: Record<string, string>;
}

/** An event: the unit of sync and of commits. */
export interface WireEvent {
  id: EventId;
  collection: string;
  entity_id: EntityId;
  parents: EventId[];
  operations: WireValues;
  delete?: boolean;
  /** Who made it, set by the server (ignored in commits): the token's subject for API writes, the SQL role for SQL writes. */
  author?: string;
}

/** A field type without modifiers or brackets (docs/types.md). */
export type BaseFieldType =
  | 'text'
  | 'bigint'
  | 'double precision'
  | 'boolean'
  | 'bytea'
  | 'timestamptz'
  | 'jsonb'
  | 'ref'
  | 'smallint'
  | 'integer'
  | 'numeric'
  | `numeric(${number},${number})`
  | 'real'
  | 'varchar'
  | `varchar(${number})`
  | `char(${number})`
  | 'bpchar'
  | 'uuid'
  | 'date'
  | 'time'
  | `time(${number})`
  | 'timestamp'
  | `timestamp(${number})`
  | `timestamptz(${number})`
  | 'interval'
  | `interval(${number})`
  | 'json'
  | `enum(${string})`
  /** Collaborative text: its values are text; its operations Yjs updates (docs/text.md). */
  | 'ytext';

/** The field types a collection schema may name: the canonical names, and one-dimensional arrays of them. */
export type FieldType = BaseFieldType | `${BaseFieldType}[]`;

export interface WireField {
  name: string;
  type: FieldType;
  /** The collection whose keys the field's values are (a foreign key between adopted tables). */
  refers?: string;
}

export interface WireCollection {
  name: string;
  fields: WireField[];
}

/** What the server says in `welcome`. */
export interface Limits {
  max_frame_bytes: number;
  max_subscriptions: number;
  max_commit_events: number;
}

export interface Welcome {
  type: 'welcome';
  protocol: number;
  server: string;
  session: string;
  limits: Limits;
  /** Whom the session acts for (its token's `sub`); absent when anonymous. */
  subject?: string;
  /** When the session's token expires (RFC 3339); the client updates it after a refresh. */
  expires_at?: string;
}

/** The body of an `error` frame. */
export interface WireError {
  code: string;
  message: string;
  offset?: number;
}

/** One entry of a `changes` frame. */
export interface ChangeItem {
  sub: string;
  kind: 'add' | 'update' | 'remove';
  entity: WireEntity;
  events?: WireEvent[];
}

/** Frames a server sends. */
export type ServerFrame =
  | Welcome
  | { type: 'result'; id: number; result: unknown }
  /**
   * id: the request's; null answers a frame without a valid id (none a
   * correct client sends); absent for an error about the session itself
   * (slow_consumer, token_expired, shutting_down), which the close follows.
   */
  | { type: 'error'; id?: number | null; sub?: string; error: WireError }
  | { type: 'changes'; items: ChangeItem[] }
  | { type: 'schema'; change: SchemaChange; collection?: WireCollection }
  | { type: 'token_expiring'; expires_at: string };

/**
 * A change of a collection's schema made on the server's database with SQL
 * (a `schema` frame): `kind` is add_field, drop_field, rename_field,
 * retype_field, rename_table, drop_table, adopt or key_changed.
 */
export interface SchemaChange {
  id: string;
  collection: string;
  kind: string;
  field?: string;
  old_name?: string;
  old_type?: string;
  new_type?: string;
  detail?: string;
}

/**
 * A query argument: bound to a `?` in order. An array binds `IN (?)`; to
 * compare with an array field, pass the array's text ('{1,2}').
 */
export type QueryScalar = string | number | boolean | null | Date;
export type QueryArg = QueryScalar | readonly QueryScalar[];

/** Requests a client sends (without their `id`, which the connection assigns). */
export type Request =
  | { type: 'subscribe'; sub: string; collection: string; query: string; args?: JsonValue[]; known?: Record<EntityId, EventId[]> }
  | { type: 'update_subscription'; sub: string; query: string; args?: JsonValue[] }
  | { type: 'unsubscribe'; sub: string }
  | { type: 'fetch'; collection: string; query: string; args?: JsonValue[] }
  | { type: 'get'; collection: string; ids: EntityId[] }
  | { type: 'get_events'; ids?: EventId[]; collection?: string; entity_id?: EntityId }
  | { type: 'commit'; events: WireEvent[] }
  | { type: 'register_schema'; collections: WireCollection[] }
  | { type: 'collections' }
  | { type: 'ping' }
  | { type: 'auth'; token: string };

/** The result of `subscribe` and `update_subscription`. */
export interface SubscribeResult {
  sub: string;
  entities: WireEntity[];
  removed?: EntityId[] | null;
}

/** The result of `fetch`, `get` and `commit`. */
export interface EntitiesResult {
  entities: WireEntity[];
}

/** The result of `auth`: whom the session acts for now, and until when. */
export interface AuthResult {
  subject?: string;
  expires_at?: string;
}

/** The result of `get_events`. */
export interface EventsResult {
  events: WireEvent[];
}

/** Converts query arguments to their JSON form (a Date becomes RFC 3339 text). */
export function argsToWire(args: readonly QueryArg[]): JsonValue[] {
  const one = (a: QueryScalar): JsonValue => (a instanceof Date ? a.toISOString() : a);
  return args.map((a) => (Array.isArray(a) ? a.map(one) : one(a as QueryScalar)));
}
