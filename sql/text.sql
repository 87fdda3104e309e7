-- Collaborative text: SQL writes of ytext fields become Yjs edits.
--
-- A ytext field (docs/text.md) is a text column whose value is the text of
-- a Yjs document kept in ankurah.ytext. When plain SQL writes the column,
-- the collection's trigger (ankurah.on_write) calls ankurah.ytext_ops,
-- which turns the new text into the smallest edit of the document — one
-- deletion and one insertion between the longest common prefix and suffix
-- of the old and new texts, in whole characters — encoded as a Yjs update
-- (format v1, as the yjs npm package writes it), and records that update as
-- the field's operation in the event: {"yjs": "<base64>"}. So a SQL edit
-- merges with concurrent edits made in editors, character by character.
--
-- Positions are counted in UTF-16 code units, as Yjs counts them. The
-- document's visible text is kept as runs of ids (ankurah.ytext.runs:
-- client, clock, length), which name the units around the edit: the
-- insertion goes after the unit before it and before the unit after it, and
-- the deletion lists the ids of the units it removes.
--
-- Error code raised here (besides AK002, a bad value):
--   AK020  the document is out of step with the column (its text is not
--          the column's): written around the triggers

-- ytext_varuint is lib0's variable-length unsigned integer: 7 bits a byte,
-- least significant first, the high bit set on every byte but the last.
create or replace function ankurah.ytext_varuint(n bigint) returns bytea
language plpgsql immutable strict as $$
declare
  out bytea := '';
begin
  if n < 0 then
    raise exception 'ytext_varuint: negative %', n;
  end if;
  while n >= 128 loop
    out := out || set_byte('\x00'::bytea, 0, ((n % 128) + 128)::int);
    n := n / 128;
  end loop;
  return out || set_byte('\x00'::bytea, 0, n::int);
end $$;

-- ytext_varstring is lib0's string: its UTF-8 length, then its UTF-8 bytes.
create or replace function ankurah.ytext_varstring(s text) returns bytea
language sql immutable strict as $$
  select ankurah.ytext_varuint(octet_length(s)) || convert_to(s, 'UTF8')
$$;

-- utf16_length is the length of s in UTF-16 code units: a character
-- beyond U+FFFF (four bytes in UTF-8) counts two.
create or replace function ankurah.utf16_length(s text) returns bigint
language sql immutable strict as $$
  select length(s) + (octet_length(s) - octet_length(regexp_replace(s, '[\U00010000-\U0010FFFF]', '', 'g'))) / 4
$$;

-- ytext_cut returns the runs (flattened client, clock, length triples)
-- covering UTF-16 units [from, to) of the text the runs spell, cutting the
-- runs at either end.
create or replace function ankurah.ytext_cut(runs bigint[], from_u bigint, to_u bigint) returns bigint[]
language plpgsql immutable strict as $$
declare
  out bigint[] := '{}';
  at bigint := 0;   -- the unit where the current run starts
  i int := 1;
  c bigint; k bigint; n bigint;
  lo bigint; hi bigint;
begin
  while i + 2 <= coalesce(array_length(runs, 1), 0) and at < to_u loop
    c := runs[i]; k := runs[i + 1]; n := runs[i + 2];
    lo := greatest(from_u, at);
    hi := least(to_u, at + n);
    if lo < hi then
      out := out || array[c, k + (lo - at), hi - lo];
    end if;
    at := at + n;
    i := i + 3;
  end loop;
  return out;
end $$;

-- ytext_join appends run (c, k, n) to runs, extending the last run when it
-- continues it.
create or replace function ankurah.ytext_join(runs bigint[], c bigint, k bigint, n bigint) returns bigint[]
language plpgsql immutable strict as $$
declare
  len int := coalesce(array_length(runs, 1), 0);
begin
  if n <= 0 then
    return runs;
  end if;
  if len >= 3 and runs[len - 2] = c and runs[len - 1] + runs[len] = k then
    runs[len] := runs[len] + n;
    return runs;
  end if;
  return runs || array[c, k, n];
end $$;

-- ytext_id returns the id (client, clock) of UTF-16 unit u of the text.
create or replace function ankurah.ytext_id(runs bigint[], u bigint) returns bigint[]
language plpgsql immutable strict as $$
declare
  cut bigint[] := ankurah.ytext_cut(runs, u, u + 1);
begin
  return array[cut[1], cut[2]];
end $$;

-- ytext_write turns the replacement of old_text by new_text in field `field`
-- of entity eid of collection coll into a Yjs update, records it in the
-- field's document (ankurah.ytext) and returns it. A field without a
-- document gets one: SQL creates it with its first text.
create or replace function ankurah.ytext_write(coll text, eid text, fld text, old_text text, new_text text) returns bytea
language plpgsql as $$
declare
  doc record;
  runs bigint[];
  client bigint;
  clock bigint;
  total bigint;
  a text[] := string_to_array(old_text, null);
  b text[] := string_to_array(new_text, null);
  na int := coalesce(array_length(a, 1), 0);
  nb int := coalesce(array_length(b, 1), 0);
  p int := 0;
  s int := 0;
  pos bigint;
  del bigint;
  ins text;
  ins_len bigint;
  dels bigint[];
  ds_clients bigint[];
  r record;
  have boolean;
  upd bytea;
  info int;
  origin bigint[];
  right_origin bigint[];
  newruns bigint[];
  i int;
begin
  if getdatabaseencoding() <> 'UTF8' then
    raise exception using errcode = 'AK002',
      message = format('%s.%s: ytext fields need a database in UTF8 (this one is %s)', coll, fld, getdatabaseencoding());
  end if;
  select * into doc from ankurah.ytext y where y.collection = coll and y.entity_id = eid and y.field = fld for update;
  have := found;
  if have then
    runs := doc.runs;
    client := doc.sql_client;
    clock := doc.sql_clock;
  else
    -- A new document: the column had no text (NULL), or had text written
    -- around the triggers, which no document holds.
    runs := '{}';
    client := 1 + floor(random() * 4294967294)::bigint; -- Yjs client ids are uint32
    clock := 0;
    if old_text <> '' then
      raise exception using errcode = 'AK020',
        message = format('%s %s: the document of %s is missing: the column holds text that no edit recorded', coll, eid, fld),
        hint = 'the column was written around the triggers; write it through Ankurah or with plain SQL';
    end if;
  end if;
  total := 0;
  for i in 1 .. coalesce(array_length(runs, 1), 0) / 3 loop
    total := total + runs[3 * i];
  end loop;
  if total <> ankurah.utf16_length(old_text) then
    raise exception using errcode = 'AK020',
      message = format('%s %s: the document of %s is out of step with the column (%s units, the column %s)', coll, eid, fld, total, ankurah.utf16_length(old_text)),
      hint = 'the column was written around the triggers; write it through Ankurah or with plain SQL';
  end if;

  -- The longest common prefix and suffix, in whole characters.
  while p < na and p < nb and (a[p + 1] collate "C") = (b[p + 1] collate "C") loop
    p := p + 1;
  end loop;
  while s < na - p and s < nb - p and (a[na - s] collate "C") = (b[nb - s] collate "C") loop
    s := s + 1;
  end loop;
  pos := ankurah.utf16_length(array_to_string(a[1:p], ''));
  del := ankurah.utf16_length(array_to_string(a[p + 1:na - s], ''));
  ins := array_to_string(b[p + 1:nb - s], '');
  ins_len := ankurah.utf16_length(ins);

  -- Structs: at most one item, the insertion, after the unit before the
  -- edit (its origin) and before the unit after the deletion (its right
  -- origin); without either, its parent is the root type "text".
  if ins_len > 0 then
    info := 4; -- ContentString
    if pos > 0 then
      origin := ankurah.ytext_id(runs, pos - 1);
      info := info | 128;
    end if;
    if pos + del < total then
      right_origin := ankurah.ytext_id(runs, pos + del);
      info := info | 64;
    end if;
    upd := ankurah.ytext_varuint(1) || ankurah.ytext_varuint(1) || ankurah.ytext_varuint(client) || ankurah.ytext_varuint(clock)
      || set_byte('\x00'::bytea, 0, info);
    if origin is not null then
      upd := upd || ankurah.ytext_varuint(origin[1]) || ankurah.ytext_varuint(origin[2]);
    end if;
    if right_origin is not null then
      upd := upd || ankurah.ytext_varuint(right_origin[1]) || ankurah.ytext_varuint(right_origin[2]);
    end if;
    if origin is null and right_origin is null then
      upd := upd || ankurah.ytext_varuint(1) || ankurah.ytext_varstring('text');
    end if;
    upd := upd || ankurah.ytext_varstring(ins);
  else
    upd := ankurah.ytext_varuint(0);
  end if;

  -- The delete set: the deleted units' ids, per client (descending, as
  -- Yjs writes them), ranges sorted by clock and joined.
  dels := ankurah.ytext_cut(runs, pos, pos + del);
  select coalesce(array_agg(distinct d.c order by d.c desc), '{}') into ds_clients
    from (select dels[3 * gs - 2] c from generate_series(1, coalesce(array_length(dels, 1), 0) / 3) gs) d;
  upd := upd || ankurah.ytext_varuint(coalesce(array_length(ds_clients, 1), 0));
  for i in 1 .. coalesce(array_length(ds_clients, 1), 0) loop
    newruns := '{}';
    for r in select dels[3 * gs - 1] k, dels[3 * gs] n from generate_series(1, array_length(dels, 1) / 3) gs
             where dels[3 * gs - 2] = ds_clients[i] order by 1 loop
      newruns := ankurah.ytext_join(newruns, ds_clients[i], r.k, r.n);
    end loop;
    upd := upd || ankurah.ytext_varuint(ds_clients[i]) || ankurah.ytext_varuint(array_length(newruns, 1) / 3);
    for j in 1 .. array_length(newruns, 1) / 3 loop
      upd := upd || ankurah.ytext_varuint(newruns[3 * j - 1]) || ankurah.ytext_varuint(newruns[3 * j]);
    end loop;
  end loop;

  -- The runs after the edit.
  newruns := ankurah.ytext_cut(runs, 0, pos);
  newruns := ankurah.ytext_join(newruns, client, clock, ins_len);
  dels := ankurah.ytext_cut(runs, pos + del, total);
  for i in 1 .. coalesce(array_length(dels, 1), 0) / 3 loop
    newruns := ankurah.ytext_join(newruns, dels[3 * i - 2], dels[3 * i - 1], dels[3 * i]);
  end loop;

  if not have then
    insert into ankurah.ytext (collection, entity_id, field, state, updates, runs, sql_client, sql_clock)
      values (coll, eid, fld, upd, '{}', newruns, client, clock + ins_len);
  else
    update ankurah.ytext y set updates = y.updates || upd, runs = newruns, sql_clock = clock + ins_len
      where y.collection = coll and y.entity_id = eid and y.field = fld;
  end if;
  return upd;
end $$;

-- ytext_ops replaces the text of each ytext field in an event's operations
-- (ops, from ankurah.on_write) by the Yjs update that makes it (see
-- ytext_write); old_row is the row before an UPDATE (NULL for an INSERT).
create or replace function ankurah.ytext_ops(coll text, eid text, ops jsonb, old_row jsonb) returns jsonb
language plpgsql as $$
declare
  f record;
  out jsonb := ops;
  v jsonb;
  u bytea;
begin
  for f in select fl.name from ankurah.fields fl where fl.collection = coll and fl.type = 'ytext' and ops ? fl.name loop
    v := ops -> f.name;
    if v = 'null'::jsonb then
      raise exception using errcode = 'AK002',
        message = format('%s.%s is ytext (collaborative text): it cannot be set to NULL', coll, f.name),
        hint = 'set it to '''' to clear the text';
    end if;
    u := ankurah.ytext_write(coll, eid, f.name, coalesce(old_row ->> f.name, ''), v #>> '{}');
    out := jsonb_set(out, array[f.name], jsonb_build_object('yjs', translate(encode(u, 'base64'), E'\n', '')));
  end loop;
  return out;
end $$;

-- ytext_forget drops the documents of a deleted entity (its history keeps
-- every update).
create or replace function ankurah.ytext_forget(coll text, eid text) returns void
language sql as $$
  delete from ankurah.ytext where collection = coll and entity_id = eid
$$;
