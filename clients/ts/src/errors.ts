import type { WireError } from './protocol.js';

/**
 * AnkurahError is every error the client reports: a stable `code` to branch
 * on (the server's codes from docs/protocol.md, plus the client's own below)
 * and a message for humans. Query errors carry `offset`, the byte offset in
 * the query text.
 */
export class AnkurahError extends Error {
  override readonly name = 'AnkurahError';
  readonly code: string;
  readonly offset: number | undefined;
  /** `unknown_field`: the field the query names … */
  readonly field: string | undefined;
  /** … and the model's fields. */
  readonly fields: readonly string[] | undefined;

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
} as const;

/** Server codes after which resending the same request may succeed. */
export const retryableCodes: ReadonlySet<string> = new Set(['conflict', 'shutting_down']);
