import { AnkurahError, Client, indexedDBStore } from '@ankurah/client';
import { AnkurahProvider } from '@ankurah/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { storedToken, tokenSubject } from './session';
import './styles.css';

/** The server: ?server=ws://host:port/ws, or port 9797 of the page's host. */
function serverURL(): string {
  const param = new URLSearchParams(location.search).get('server');
  if (param) return param;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname || '127.0.0.1'}:9797/ws`;
}

const root = createRoot(document.getElementById('root')!);
const url = serverURL();
// Who the page is signed in as (the token's claim, until the server says).
// A client acts for one user: signing in as someone else reloads the page.
const user = tokenSubject(storedToken());
try {
  // The cache and the unsent commits live in IndexedDB: the page works
  // offline, across reloads, and its tabs share one outbox. One database
  // per user, so that nobody sees another's cache or sends their commits.
  const client = new Client({
    url,
    clientName: 'albums-example/0.1',
    // Asked before every connection attempt and when the server says the
    // token expires soon: a token pasted meanwhile is used.
    token: storedToken,
    storage: indexedDBStore(user ? { name: `ankurah ${url} as ${user}` } : {}),
  });
  root.render(
    <StrictMode>
      <AnkurahProvider client={client}>
        <App server={url} user={user} />
      </AnkurahProvider>
    </StrictMode>,
  );
} catch (e) {
  // A server address that can never work (bad_url) is said on the page.
  const err = e instanceof AnkurahError ? e : new AnkurahError('internal', String(e));
  root.render(
    <main>
      <h1>Albums</h1>
      <p className="error" role="alert" data-testid="connection-error">
        {err.code}: {err.message}
      </p>
    </main>,
  );
}
