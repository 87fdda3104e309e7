import { isPending } from '@ankurah/client';
import { useClient } from '@ankurah/client/react';
import { useState, type FormEvent } from 'react';
import { Album, type AlbumView } from './generated';
import { NotesEditor } from './NotesEditor';

/**
 * One album: its fields, or inline inputs while editing; public or not; plus
 * delete. Every button is there for every album: the server decides (with
 * the example's policy, another user's album cannot be changed, and the
 * refusal is shown with its code).
 */
export function AlbumRow({ album, onError }: { album: AlbumView; onError: (e: unknown) => void }) {
  const client = useClient();
  // The version being edited: saving sends only what differs from it, with
  // it as the parent, so concurrent edits of other fields are kept.
  const [base, setBase] = useState<AlbumView | null>(null);
  const [draft, setDraft] = useState({ name: '', artist: '', year: '' });
  const editing = base !== null;
  const pending = isPending(album);

  function edit() {
    setDraft({ name: album.name, artist: album.artist, year: String(album.year) });
    setBase(album);
  }

  function save(e: FormEvent) {
    e.preventDefault();
    if (!base) return;
    setBase(null);
    // Only the fields that differ from base become operations.
    const patch = { name: draft.name.trim(), artist: draft.artist.trim(), year: Number(draft.year) || 0 };
    client.update(Album, base, patch).catch(onError);
  }

  if (editing) {
    return (
      <tr data-testid="album-row" data-id={album.id} className="editing">
        <td colSpan={7}>
          <form className="edit" onSubmit={save} onKeyDown={(e) => e.key === 'Escape' && setBase(null)}>
            <input name="name" aria-label="Album" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} autoFocus />
            <input name="artist" aria-label="Artist" value={draft.artist} onChange={(e) => setDraft({ ...draft, artist: e.target.value })} />
            <input name="year" aria-label="Year" inputMode="numeric" value={draft.year} onChange={(e) => setDraft({ ...draft, year: e.target.value })} />
            <button type="submit">Save</button>
            <button type="button" onClick={() => setBase(null)}>Cancel</button>
          </form>
        </td>
      </tr>
    );
  }
  return (
    <tr data-testid="album-row" data-id={album.id} className={pending ? 'pending' : undefined} title={pending ? 'saving…' : undefined}>
      <td className="name" onDoubleClick={edit}>{album.name}</td>
      <td className="artist" onDoubleClick={edit}>{album.artist}</td>
      <td className="year" onDoubleClick={edit}>{album.year || ''}</td>
      <td className="owner">{album.owner}</td>
      <td className="public">
        <input
          type="checkbox"
          checked={album.public === true}
          onChange={(e) => void client.update(Album, album, { public: e.target.checked }).catch(onError)}
          aria-label={`Public: ${album.name}`}
        />
      </td>
      <td className="notes">
        <NotesEditor album={album} />
      </td>
      <td className="actions">
        <button onClick={edit}>Edit</button>
        <button onClick={() => client.delete(Album, album).catch(onError)} aria-label={`Delete ${album.name}`}>Delete</button>
      </td>
    </tr>
  );
}
