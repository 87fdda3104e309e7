import type { WireError } from './protocol.js';

/**
 * AnkurahError is every error the client reports: a stable `code` to branch
 * on (the server's codes from docs/protocol.md, plus the client's own below)
 * and a message for humans. Query errors carry `offset`, the byte offset in
 * the query text.
 */
export class AnkurahError extends Error {
  override readonly name = 'AnkurahError';
  declare readonly code: string;
  declare readonly offset: number | undefined;
  /** `unknown_field`: the field the query names … */
  declare readonly field: string | undefined;
  /** … and the model's fields. */
  declare readonly fields: readonly string[] | undefined;

  constructor(code: string, message: string, offset?: number, detail?: { field: string; fields: readonly string[] }) {
    super(message);
    this.code = code;
    this.offset = offset;
    this.field = detail?.field;
    this.fields = detail?.fields;
  }

  static fromWire(e: WireError): AnkurahError {
    return new AnkurahError(e.code, e.message, e.offset);
  }
}

/** Codes the client itself produces (the server's are in docs/protocol.md). */
export const ClientCodes = {
  /** The client was closed; pending requests are rejected with it. */
  closed: 'closed',
  /** The server sent something this client cannot understand. */
  badFrame: 'bad_frame',
  /** A request was made that cannot succeed (e.g. editing an unknown entity). */
  usage: 'usage',
  /** The url option is not a ws:// or wss:// address (thrown by new Client). */
  badUrl: 'bad_url',
  /** There is no WebSocket implementation to use (thrown by new Client). */
  noWebSocket: 'no_websocket',
  /** A connection attempt failed before the handshake (server unreachable, refused, TLS). */
  connectFailed: 'connect_failed',
  /** An open connection was lost; requests not answered on it fail with this code too. */
  disconnected: 'disconnected',
  /** The server stopped answering: the client's keepalive dropped the connection. */
  keepaliveTimeout: 'keepalive_timeout',
  /** A query names a field its model lacks (also has `field` and `fields`). */
  unknownField: 'unknown_field',
  /** The token option (a function) threw, rejected or did not answer: that attempt failed, and is retried. */
  tokenFailed: 'token_failed',
} as const;

/**
 * The server's codes for authentication, authorisation and limits
 * (docs/protocol.md, docs/web.md#signing-in):
 *
 * - `unauthenticated`: no token where the server needs one, one that does not
 *   verify, or (answering `auth`) one for another subject;
 * - `token_expired`: the token had expired, or the session's token expired
 *   without a refresh;
 * - `permission_denied`: the policy does not let this user do this — a commit
 *   (nothing of it is written), a query naming a hidden field, a schema
 *   change, a live query the user may no longer read;
 * - `rate_limited`: more requests per second than the server allows;
 * - `too_complex`: a query or schema change over the server's limits.
 *
 * The first two end the connection: they show in the client's `state.error`
 * and the client retries, asking the token option again. The others answer
 * one request, or end one live query.
 */
export type AuthCode = 'unauthenticated' | 'token_expired' | 'permission_denied' | 'rate_limited' | 'too_complex';

/** Server codes after which resending the same request may succeed. */
export const retryableCodes: ReadonlySet<string> = new Set(['conflict', 'shutting_down']);
