/**
 * @ankurah/client: live queries, transactions with optimistic updates and
 * typed models for Ankurah servers, over the wire protocol v1
 * (docs/protocol.md). React hooks are in '@ankurah/client/react'.
 *
 * The exports go from the bottom up — the query language and the models'
 * types; errors, the protocol and signals; the store and transactions; the
 * connection; live queries; the client; the durable store — and a bundler
 * lays the modules out in this order: gzip then finds each module's
 * vocabulary near its neighbours' (the core is some 250 B smaller gzipped
 * than with the client first; docs/web.md, "Size").
 */
export { compile as compileQuery, type Matcher } from './query/eval.js';
export { defineModel, modelSchema, type FieldSpec, type FieldTypes, type Model, type Mutable, type ValuesOf, type View } from './model.js';
export { parse as parseQuery } from './query/parse.js';
export type { CheckedQuery, QueryFields } from './querycheck.js';
export { AnkurahError, ClientCodes, type AuthCode } from './errors.js';
export type {
  AuthResult,
  ChangeItem,
  EntityId,
  EventId,
  FieldType,
  JsonValue,
  QueryArg,
  QueryScalar,
  SchemaChange,
  WireCollection,
  WireEntity,
  WireEvent,
  WireValues,
  Welcome,
} from './protocol.js';
export { batch, computed, signal, type ReadSignal, type WritableSignal } from './signal.js';
export { EntityStore, type EntityState } from './store.js';
export { isPending, metaOf, type ViewMeta } from './view.js';
export { Transaction } from './transaction.js';
export { isAuthError, type TokenProvider } from './auth.js';
export { IdGenerator, idTime, isId } from './ulid.js';
export {
  Connection,
  type BackoffOptions,
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionStatus,
  type WebSocketFactory,
  type WebSocketLike,
} from './connection.js';
export { LiveQuery, ECHO_MS, type Change, type ChangeSet, type LiveQuerySnapshot, type LiveQueryStatus } from './livequery.js';
export { Client, type ClientOptions, type StorageState } from './client.js';
export type { LocalStore, OutboxEntry, StoredEntity } from './persist.js';
export { indexedDBStore, type IndexedDBStoreOptions } from './idb.js';
