import { AnkurahError } from '@ankurah/client';
import { useSuspenseLiveQuery } from '@ankurah/client/react';
import { Component, Suspense, useDeferredValue, useState, type ReactNode } from 'react';
import { Account } from './Account';
import { AddAlbum } from './AddAlbum';
import { AlbumRow } from './AlbumRow';
import { ConnectionBadge, ConnectionProblem } from './ConnectionBadge';
import { Album } from './generated';

/**
 * Albums from a year on, newest first, kept live by the server — those the
 * server lets the signed-in user read (with the example's policy: their own
 * and the public ones).
 */
export function App({ server, user }: { server: string; user: string }) {
  const [from, setFrom] = useState(0);
  // The list suspends for a new selection; deferring the value keeps the
  // current rows on screen meanwhile.
  const deferred = useDeferredValue(from);
  // A refused edit or delete (e.g. permission_denied for another's album): its code and message.
  const [error, setError] = useState<AnkurahError | null>(null);
  const onError = (e: unknown) => setError(e instanceof AnkurahError ? e : new AnkurahError('internal', String(e)));

  return (
    <main>
      <header>
        <h1>Albums</h1>
        <ConnectionBadge />
      </header>
      <Account user={user} />
      <ConnectionProblem />
      <AddAlbum owner={user} />
      <label className="filter">
        From year <input type="number" value={from} onChange={(e) => setFrom(Number(e.target.value) || 0)} aria-label="From year" />
      </label>
      {error && (
        <p className="error" role="alert" data-testid="action-error" data-code={error.code} onClick={() => setError(null)}>
          Not saved: {error.message} ({error.code})
        </p>
      )}
      <ErrorBoundary>
        <Suspense fallback={<Loading server={server} />}>
          <Albums from={deferred} onError={onError} />
        </Suspense>
      </ErrorBoundary>
    </main>
  );
}

function Albums({ from, onError }: { from: number; onError: (e: unknown) => void }) {
  const { rows, status } = useSuspenseLiveQuery(Album, 'year >= ? ORDER BY year DESC, name', [from]);
  return (
    <>
      <table>
        <thead>
          <tr>
            <th>Album</th>
            <th>Artist</th>
            <th>Year</th>
            <th>Owner</th>
            <th>Public</th>
            <th>Notes</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((a) => (
            <AlbumRow key={a.id} album={a} onError={onError} />
          ))}
        </tbody>
      </table>
      <p className="status" data-testid="status" data-status={status}>
        {rows.length} album{rows.length === 1 ? '' : 's'}
        {status === 'cached' && ' (saved on this device; not yet confirmed by the server)'} · double-click a row to edit
      </p>
    </>
  );
}

/** What Suspense shows until the first rows are there: where they come from. */
function Loading({ server }: { server: string }) {
  return (
    <p className="status" data-testid="suspense-fallback">
      Loading albums from <code>{server}</code>…
    </p>
  );
}

/** Errors the list cannot render past, with their code (e.g. a query the server refuses). */
class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override render() {
    const e = this.state.error;
    if (!e) return this.props.children;
    const code = e instanceof AnkurahError ? e.code : 'internal';
    return (
      <p className="error" role="alert" data-testid="list-error" data-code={code}>
        {code}: {e instanceof Error ? e.message : String(e)}{' '}
        <button type="button" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </p>
    );
  }
}
