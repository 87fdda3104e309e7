import { isAuthError } from '@ankurah/client';
import { useClient, useConnectionState } from '@ankurah/client/react';
import { useState, type FormEvent } from 'react';
import { storeToken, tokenSubject } from './session';

/**
 * Who is signed in, and the sign-in step: a field for a development token
 * (`ankurah token --sub alice --role user`), a sign-out button, and a clear
 * message when the server refuses the token or it expires.
 */
export function Account({ user }: { user: string }) {
  const client = useClient();
  const { status, error, welcome } = useConnectionState();
  const [problem, setProblem] = useState('');
  const refused = status !== 'connected' && error !== undefined && isAuthError(error);

  function signIn(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const token = String(new FormData(e.currentTarget).get('token') ?? '').trim();
    const sub = tokenSubject(token);
    if (!sub) return setProblem('That is not a token: a JWT is three base64url parts separated by dots, with a "sub" claim.');
    setProblem('');
    storeToken(token);
    e.currentTarget.reset();
    // The same user with a fresh token: the client asks for it again now
    // (sends it on the open connection, or connects at once). Another user:
    // a new page, with that user's own local store.
    if (sub === user) void client.connection.reauthenticate().catch(() => {});
    else location.reload();
  }

  function signOut() {
    storeToken('');
    client.close();
    location.reload();
  }

  return (
    <section className="account" data-testid="account" data-user={user} data-subject={welcome?.subject ?? ''}>
      {user && refused ? (
        <p>
          Not signed in: the token for <strong>{user}</strong> was not accepted.{' '}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </p>
      ) : user ? (
        <p>
          Signed in as <strong data-testid="user">{welcome?.subject ?? user}</strong>
          {!welcome && ' (not yet confirmed by the server)'}
          {welcome?.expires_at && <span className="expires"> · token valid until {new Date(welcome.expires_at).toLocaleTimeString()}</span>}{' '}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </p>
      ) : (
        <p>Not signed in{status === 'connected' && ' (this server lets anyone in)'}.</p>
      )}
      {refused && (
        <p className="error" role="alert" data-testid="auth-error" data-code={error.code}>
          {error.code === 'token_expired'
            ? 'Your token has expired: paste a new one to carry on.'
            : user
              ? 'The server refused your token: paste another one.'
              : 'This server needs you to sign in.'}{' '}
          <small>
            ({error.code}: {error.message})
          </small>
        </p>
      )}
      {(!user || refused) && (
        <form className="signin" data-testid="signin" onSubmit={signIn} aria-label="Sign in">
          <input name="token" placeholder="Paste a token: ankurah token --sub alice --role user" autoComplete="off" required />
          <button type="submit">Sign in</button>
        </form>
      )}
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}
