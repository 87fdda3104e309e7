import { useLiveQuery } from '@ankurah/client/react';
import { useState } from 'react';
import { AddAlbum } from './AddAlbum';
import { AlbumRow } from './AlbumRow';
import { ConnectionBadge } from './ConnectionBadge';
import { Album } from './generated';

/** Albums from a year on, newest first, kept live by the server. */
export function App({ server }: { server: string }) {
  const [from, setFrom] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const { rows, status, error: queryError } = useLiveQuery(Album, 'year >= ? ORDER BY year DESC, name', [from]);
  const onError = (e: unknown) => setError(e instanceof Error ? e.message : String(e));

  return (
    <main>
      <header>
        <h1>Albums</h1>
        <ConnectionBadge server={server} />
      </header>
      <AddAlbum onError={onError} />
      <label className="filter">
        From year <input type="number" value={from} onChange={(e) => setFrom(Number(e.target.value) || 0)} aria-label="From year" />
      </label>
      {error && (
        <p className="error" role="alert" onClick={() => setError(null)}>
          {error}
        </p>
      )}
      {queryError && <p className="error" role="alert">{queryError.message}</p>}
      <table>
        <thead>
          <tr>
            <th>Album</th>
            <th>Artist</th>
            <th>Year</th>
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
        {status === 'loading' ? 'Loading…' : `${rows.length} album${rows.length === 1 ? '' : 's'}`} · double-click a row to edit
      </p>
    </main>
  );
}
