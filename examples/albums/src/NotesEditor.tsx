import { useClient } from '@ankurah/client/react';
import { onTextReplaced, smallestEdit, textOf } from '@ankurah/client/text';
import { useEffect, useRef, useState } from 'react';
import type * as Y from 'yjs';
import { Album, type AlbumView } from './generated';

/**
 * An album's notes in a textarea bound to the field's Y.Text: what is typed
 * becomes the smallest edit of the Y.Text (each one an event, sent at once
 * or kept while offline), and edits from others — other pages, psql — are
 * applied to the textarea as they come, keeping the caret where it was
 * relative to the text around it. Any Yjs editor binding (CodeMirror,
 * ProseMirror/Tiptap, Quill) can take the Y.Text's place.
 */
export function NotesEditor({ album }: { album: AlbumView }) {
  const client = useClient();
  const [text, setText] = useState<Y.Text>(() => textOf(client, Album, album, 'notes'));
  const ref = useRef<HTMLTextAreaElement>(null);

  // The document is made again after the server refused one of our edits.
  useEffect(
    () =>
      onTextReplaced(client, Album, album.id, 'notes', (t) => {
        console.error(`notes of ${album.name}: an edit was refused; the text is the server's again`);
        setText(t);
      }),
    [client, album.id, album.name],
  );

  useEffect(() => {
    const ta = ref.current!;
    ta.value = text.toString();
    ta.dataset.length = String(ta.value.length);
    const onRemote = (ev: Y.YTextEvent) => {
      if (ev.transaction.local) return; // typed here: the textarea has it already
      let start = ta.selectionStart;
      let end = ta.selectionEnd;
      let pos = 0;
      for (const op of ev.delta) {
        if (op.retain !== undefined) pos += op.retain;
        else if (typeof op.insert === 'string') {
          const n = op.insert.length;
          if (pos < start) start += n;
          if (pos < end) end += n;
          pos += n;
        } else if (op.delete !== undefined) {
          const n = op.delete;
          if (pos < start) start = Math.max(pos, start - n);
          if (pos < end) end = Math.max(pos, end - n);
        }
      }
      const focused = document.activeElement === ta;
      ta.value = text.toString();
      if (focused) ta.setSelectionRange(start, end);
      ta.dataset.length = String(ta.value.length);
    };
    text.observe(onRemote);
    return () => text.unobserve(onRemote);
  }, [text]);

  function onInput() {
    const ta = ref.current!;
    const [pos, del, ins] = smallestEdit(text.toString(), ta.value);
    text.doc!.transact(() => {
      if (del > 0) text.delete(pos, del);
      if (ins !== '') text.insert(pos, ins);
    });
    ta.dataset.length = String(ta.value.length);
  }

  return <textarea ref={ref} className="notes" data-testid="notes" aria-label={`Notes on ${album.name}`} rows={2} placeholder="Notes…" onInput={onInput} />;
}
