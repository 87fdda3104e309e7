import { useClient } from '@ankurah/client/react';
import { useState, type FormEvent } from 'react';
import { Album } from './generated';

/** A form that creates an album. The row appears at once; the server confirms it. */
export function AddAlbum({ onError }: { onError: (e: unknown) => void }) {
  const client = useClient();
  const [name, setName] = useState('');
  const [artist, setArtist] = useState('');
  const [year, setYear] = useState('');

  function submit(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) return;
    client.create(Album, { name: name.trim(), artist: artist.trim(), year: Number(year) || 0 }).catch(onError);
    setName('');
    setArtist('');
    setYear('');
  }

  return (
    <form className="add" onSubmit={submit} aria-label="Add an album">
      <input name="name" placeholder="Album" value={name} onChange={(e) => setName(e.target.value)} required />
      <input name="artist" placeholder="Artist" value={artist} onChange={(e) => setArtist(e.target.value)} />
      <input name="year" placeholder="Year" inputMode="numeric" pattern="-?[0-9]*" value={year} onChange={(e) => setYear(e.target.value)} />
      <button type="submit">Add</button>
    </form>
  );
}
