/**
 * Tokens. The `token` option is a JWT, or a function that returns one (or a
 * promise of one): the client calls it before every connection attempt and
 * when the server says the session's token expires soon (`token_expiring`),
 * then sends the new token on the open connection (`auth`), keeping its
 * subscriptions.
 */
import { AnkurahError, ClientCodes } from './errors.js';

/** Returns the token to send, or nothing (null, undefined, '') to connect without one. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

/**
 * Calls a provider for a token ('' for none). One that throws, rejects or
 * does not answer within ms fails with `token_failed`; an AnkurahError it
 * throws is kept as it is.
 */
export function getToken(t: TokenProvider, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (e: unknown): void =>
      reject(e instanceof AnkurahError ? e : new AnkurahError(ClientCodes.tokenFailed, `the token provider ${e === fail ? `did not answer within ${ms} ms` : `failed: ${e instanceof Error ? e.message : String(e)}`}`));
    const timer = setTimeout(fail, ms, fail);
    Promise.resolve()
      .then(t)
      .then((tok) => resolve(tok ?? ''), fail)
      .finally(() => clearTimeout(timer));
  });
}

/** The server refused the session's token (`unauthenticated`) or it ran out (`token_expired`): the user must sign in again. */
export function isAuthError(e: unknown): boolean {
  return e instanceof AnkurahError && (e.code === 'unauthenticated' || e.code === 'token_expired');
}
