import { useMutation } from '@ankurah/client/react';
import { useState, type FormEvent } from 'react';
import { Album } from './generated';

/**
 * A form that creates an album, through useMutation: the row appears at
 * once; the form says "Saving…" until the server confirms it (offline, until
 * the server is back), and shows a refusal with its code and a Retry button.
 * The album belongs to the signed-in user (owner), private until made public.
 */
export function AddAlbum({ owner }: { owner: string }) {
  const [name, setName] = useState('');
  const [artist, setArtist] = useState('');
  const [year, setYear] = useState('');
  const add = useMutation((tx, v: { name: string; artist: string; year: number; owner: string; public: boolean }) => tx.create(Album, v).id);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) return;
    void add.mutate({ name: name.trim(), artist: artist.trim(), year: Number(year) || 0, owner, public: false });
    setName('');
    setArtist('');
    setYear('');
  }

  return (
    <>
      <form className="add" onSubmit={submit} aria-label="Add an album">
        <input name="name" placeholder="Album" value={name} onChange={(e) => setName(e.target.value)} required />
        <input name="artist" placeholder="Artist" value={artist} onChange={(e) => setArtist(e.target.value)} />
        <input name="year" placeholder="Year" inputMode="numeric" pattern="-?[0-9]*" value={year} onChange={(e) => setYear(e.target.value)} />
        <button type="submit">Add</button>
      </form>
      <p className="add-status" data-testid="add-status" data-status={add.status}>
        {add.pending && 'Saving…'}
        {add.error && (
          <span className="error" role="alert">
            Not saved: {add.error.message} ({add.error.code}){' '}
            <button type="button" onClick={() => void add.retry()}>
              Retry
            </button>{' '}
            <button type="button" onClick={add.reset}>
              Dismiss
            </button>
          </span>
        )}
      </p>
    </>
  );
}
