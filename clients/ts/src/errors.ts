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

  constructor(code: string, message: string, offset?: number) {
    super(message);
    this.code = code;
    this.offset = offset;
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
} as const;

/** Server codes after which resending the same request may succeed. */
export const retryableCodes: ReadonlySet<string> = new Set(['conflict', 'shutting_down']);
