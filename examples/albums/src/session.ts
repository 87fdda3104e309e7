/**
 * Signing in, for development: the user pastes a token minted with
 * `ankurah token --sub alice --role user` (signed with the server's
 * secret). It is kept in sessionStorage — this tab only, gone when the tab
 * closes — and the client reads it from there whenever it connects, so a
 * new token pasted after the old one expired is used at the next attempt.
 * A real application would get the token from its identity provider here.
 */
const KEY = 'albums-token';

export function storedToken(): string {
  return sessionStorage.getItem(KEY) ?? '';
}

export function storeToken(token: string): void {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

/**
 * The subject (`sub`) a token claims, read without checking its signature:
 * only to name the local store and the owner of new albums before the
 * server has answered. The server checks the token, and says whom the
 * session acts for in welcome (useConnectionState().welcome.subject).
 * Empty when the text is not a JWT with a string `sub`.
 */
export function tokenSubject(token: string): string {
  const payload = token.split('.')[1];
  if (!payload || token.split('.').length !== 3) return '';
  try {
    const bytes = Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const json = new TextDecoder().decode(bytes);
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : '';
  } catch {
    return '';
  }
}
