-- Functions and triggers that Ankurah installs in schema `ankurah`.
--
-- This file is applied after the goose migrations by every `ankurah migrate`
-- (and by the server at start-up). Everything here is CREATE OR REPLACE, so
-- applying it again is harmless and upgrades the functions in place.
--
-- Error codes raised here (SQLSTATE class AK, mapped to coded errors in Go):
--   AK001  not a valid entity/event id
--   AK002  bad schema: unknown type, a field redeclared with another type
--   AK003  SQL wrote a system column (_head) or changed an id
--   AK004  an entity id that is already used (deleted entities keep theirs)
--   AK005  unknown collection
--   AK006  bad collection or field name
--   AK007  TRUNCATE (it would bypass the event history)
--   AK008  ankurah.events is append-only

-- ---------------------------------------------------------------------------
-- ULIDs: 26 characters of Crockford base32, uppercase.

create or replace function ankurah.ulid_successor(id text) returns text
language plpgsql immutable strict as $$
declare
  alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  chars text[] := regexp_split_to_array(id, '');
  i int := 26;
  pos int;
begin
  loop
    pos := strpos(alphabet, chars[i]);
    if pos < 32 then
      chars[i] := substr(alphabet, pos + 1, 1);
      return array_to_string(chars, '');
    end if;
    chars[i] := '0';
    i := i - 1;
    if i = 0 then
      raise exception using errcode = 'AK001', message = 'ULID overflow';
    end if;
  end loop;
end $$;

-- new_ulid returns a fresh ULID from the clock and 80 random bits. When
-- `after` is given the result is greater than it: an event's id is always
-- greater than its parents' ids (see package event), even when the parents
-- came from a node whose clock runs ahead.
create or replace function ankurah.new_ulid(after text default null) returns text
language plpgsql volatile as $$
declare
  alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  ms bigint := floor(extract(epoch from clock_timestamp()) * 1000);
  -- 80 random bits: the first 6 bytes of a v4 UUID are all random (its
  -- version and variant bits come later), so take 6 + 4 from two of them.
  rnd bit(80) := ('x' || encode(substr(uuid_send(gen_random_uuid()), 1, 6) ||
                                substr(uuid_send(gen_random_uuid()), 1, 4), 'hex'))::bit(80);
  t text := '';
  r text := '';
  result text;
begin
  for i in 1..10 loop
    t := substr(alphabet, (ms % 32)::int + 1, 1) || t;
    ms := ms / 32;
  end loop;
  for i in 0..15 loop
    r := r || substr(alphabet, substring(rnd from i * 5 + 1 for 5)::int + 1, 1);
  end loop;
  result := t || r;
  if after is not null and result collate "C" <= after collate "C" then
    -- The parent comes from a clock that runs ahead. Several writers may
    -- step past it at once, so keep the 80 fresh random bits: the parent's
    -- millisecond, or the next one when that is not greater.
    result := left(after, 10) || r;
    if result collate "C" <= after collate "C" then
      result := ankurah.ulid_successor(rpad(left(after, 10), 26, 'Z')) ;
      result := left(result, 10) || r;
    end if;
  end if;
  return result;
end $$;

create or replace function ankurah.check_id(id text) returns void
language plpgsql immutable as $$
begin
  if id is null or id !~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$' then
    raise exception using errcode = 'AK001',
      message = format('%L is not a valid entity id', id),
      hint = 'ids are ULIDs: 26 uppercase Crockford base32 characters; leave id out to get a fresh one';
  end if;
end $$;

-- ---------------------------------------------------------------------------
-- Catalog.

create or replace function ankurah.normalize_type(t text) returns text
language plpgsql immutable as $$
begin
  case lower(btrim(t))
    when 'text', 'string' then return 'text';
    when 'bigint', 'int', 'integer', 'int8' then return 'bigint';
    when 'double precision', 'float', 'float8', 'double' then return 'double precision';
    when 'boolean', 'bool' then return 'boolean';
    when 'bytea', 'bytes' then return 'bytea';
    when 'timestamptz', 'time', 'timestamp' then return 'timestamptz';
    when 'jsonb', 'json' then return 'jsonb';
    when 'ref' then return 'ref';
    else
      raise exception using errcode = 'AK002',
        message = format('unknown field type %L', t),
        hint = 'use text, bigint, double precision, boolean, bytea, timestamptz, jsonb or ref';
  end case;
end $$;

create or replace function ankurah.column_type(t text) returns text
language sql immutable as $$
  select case t when 'text' then 'text collate "C"' when 'ref' then 'text collate "C"' else t end
$$;

create or replace function ankurah.check_name(kind text, name text) returns void
language plpgsql immutable as $$
begin
  if name is null or name !~ '^[a-z][a-z0-9_]{0,62}$' or (kind = 'field' and name = 'id') then
    raise exception using errcode = 'AK006',
      message = format('bad %s name %L', kind, name),
      hint = 'names use lowercase letters, digits and _, start with a letter, have at most 63 characters; _ prefixes are reserved and a field may not be called id';
  end if;
end $$;

-- create_collection creates collection `name` (a table of the same name in
-- `table_schema`) with the given fields, e.g.
--   select ankurah.create_collection('album', '{"name":"text","year":"bigint"}');
-- It is idempotent and additive: an existing collection gets the fields it
-- lacks; a field that exists with another type is an error. Concurrent calls
-- are serialised per collection. Returns the collection's fields.
create or replace function ankurah.create_collection(name text, fields jsonb default '{}', table_schema text default 'public')
returns jsonb
language plpgsql as $$
declare
  coll text := name;
  sch text := table_schema;
  f record;
  t text;
  existing text;
begin
  perform ankurah.check_name('collection', coll);
  if fields is null or jsonb_typeof(fields) <> 'object' then
    raise exception using errcode = 'AK002', message = 'fields must be a JSON object of field name to type, e.g. {"name":"text"}';
  end if;
  perform pg_advisory_xact_lock(hashtext('ankurah.collection'), hashtext(coll));

  select c.table_schema into existing from ankurah.collections c where c.name = coll;
  if found then
    sch := existing;
  else
    insert into ankurah.collections (name, table_schema) values (coll, sch);
    execute format($f$
      create table %I.%I (
        id        text collate "C" primary key default ankurah.new_ulid(),
        _head     text[] collate "C" not null default '{}',
        _versions jsonb not null default '{}'
      )$f$, sch, coll);
    -- Writes through the API record their events themselves and mark their
    -- transaction (ankurah.writer = 'api'), so the row triggers skip them
    -- without even calling a function.
    execute format($f$create trigger ankurah_write before insert or update on %I.%I for each row
      when (current_setting('ankurah.writer', true) is distinct from 'api')
      execute function ankurah.on_write()$f$, sch, coll);
    execute format($f$create trigger ankurah_delete after delete on %I.%I for each row
      when (current_setting('ankurah.writer', true) is distinct from 'api')
      execute function ankurah.on_delete()$f$, sch, coll);
    execute format('create trigger ankurah_truncate before truncate on %I.%I for each statement execute function ankurah.on_truncate()', sch, coll);
    -- Logical replication: UPDATE and DELETE carry the whole old row, so the
    -- fan-out can tell exactly when a row leaves a query and can fill
    -- unchanged TOASTed columns of the new row from the old one.
    execute format('alter table %I.%I replica identity full', sch, coll);
    perform ankurah.publish(sch, coll);
  end if;

  for f in select key, value from jsonb_each(fields) order by key loop
    perform ankurah.check_name('field', f.key);
    if jsonb_typeof(f.value) <> 'string' then
      raise exception using errcode = 'AK002', message = format('type of field %s.%s must be a string, got %s', coll, f.key, f.value);
    end if;
    t := ankurah.normalize_type(f.value #>> '{}');
    select fl.type into existing from ankurah.fields fl where fl.collection = coll and fl.name = f.key;
    if found then
      if existing <> t then
        raise exception using errcode = 'AK002',
          message = format('field %s.%s is %s, not %s', coll, f.key, existing, t);
      end if;
    else
      execute format('alter table %I.%I add column if not exists %I %s', sch, coll, f.key, ankurah.column_type(t));
      insert into ankurah.fields (collection, name, type) values (coll, f.key, t);
    end if;
  end loop;

  return (select coalesce(jsonb_object_agg(fl.name, fl.type order by fl.name), '{}')
          from ankurah.fields fl where fl.collection = coll);
end $$;

-- ---------------------------------------------------------------------------
-- Publication: logical replication feeds the fan-out from publication
-- `ankurah`, which covers ankurah.events and every collection table.

create or replace function ankurah.publish(sch text, coll text) returns void
language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtext('ankurah.publication'));
  if not exists (select 1 from pg_publication where pubname = 'ankurah') then
    create publication ankurah for table ankurah.events;
  end if;
  if not exists (select 1 from pg_publication_tables p
                 where p.pubname = 'ankurah' and p.schemaname = sch and p.tablename = coll) then
    execute format('alter publication ankurah add table %I.%I', sch, coll);
  end if;
end $$;

-- ---------------------------------------------------------------------------
-- Triggers on collection tables: plain SQL writes become events.
--
-- A write through the API records its events itself, in the same
-- transaction, sets ankurah.writer = 'api' for that transaction, and the
-- triggers' WHEN clause skips it. Any other write (plain SQL, which leaves
-- _head alone) is recorded here as an event whose parents are the row's
-- previous head, and the row's _head and _versions advance. A SQL write may
-- not set _head itself (e.g. INSERT … SELECT * from a copy of the table):
-- that would skip the history, so it is refused.

-- sql_row returns a row's fields as they go into an event, by the
-- collection's field types: a jsonb `null` document is the same as SQL NULL
-- (an event cannot tell them apart), and timestamptz values are written in
-- UTC as RFC 3339 (to_jsonb would use the session's time zone, with offsets
-- RFC 3339 lacks); infinite timestamps and years outside 1–9999 are refused.
create or replace function ankurah.sql_row(coll text, row_json jsonb) returns jsonb
language plpgsql stable as $$
declare
  f record;
  t timestamptz;
  out jsonb := row_json;
begin
  for f in select fl.name, fl.type from ankurah.fields fl
           where fl.collection = coll and fl.type in ('timestamptz', 'jsonb') loop
    continue when out -> f.name is null or out -> f.name = 'null'::jsonb;
    if f.type = 'timestamptz' then
      t := (out ->> f.name)::timestamptz;
      if not isfinite(t) or extract(year from t at time zone 'UTC') not between 1 and 9999 then
        raise exception using errcode = 'AK002',
          message = format('%s.%s: timestamp %s is outside the years 1–9999', coll, f.name, out ->> f.name);
      end if;
      out := jsonb_set(out, array[f.name], to_jsonb(to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')));
    end if;
  end loop;
  return out;
end $$;

-- jsonb_nulls returns {field: null} for the jsonb fields whose value is the
-- `null` document, to be set to SQL NULL (see sql_row).
create or replace function ankurah.jsonb_nulls(coll text, row_json jsonb) returns jsonb
language sql stable as $$
  select coalesce(jsonb_object_agg(fl.name, null), '{}') from ankurah.fields fl
  where fl.collection = coll and fl.type = 'jsonb' and row_json -> fl.name = 'null'::jsonb
$$;

create or replace function ankurah.on_write() returns trigger
language plpgsql as $$
declare
  ops jsonb;
  ev text;
  newj jsonb;
  oldj jsonb;
  nulls jsonb;
  live boolean;
begin
  if TG_OP = 'INSERT' then
    if cardinality(NEW._head) > 0 then
      raise exception using errcode = 'AK003',
        message = format('%s %s: _head is written by ankurah, not by SQL', TG_TABLE_NAME, NEW.id),
        hint = 'leave the system columns _head and _versions out of INSERT and UPDATE';
    end if;
    perform ankurah.check_id(NEW.id);
    if exists (select 1 from ankurah.events e where e.entity_id = NEW.id) then
      -- A live row with this id: let the INSERT meet its conflict (an
      -- error, or ON CONFLICT's action, whose UPDATE is recorded as usual).
      execute format('select exists (select 1 from %I.%I where id = $1)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        into live using NEW.id;
      if live then
        return NEW;
      end if;
      raise exception using errcode = 'AK004',
        message = format('%s %s: id already used (deleted entities keep their ids and history)', TG_TABLE_NAME, NEW.id);
    end if;
    newj := to_jsonb(NEW);
    nulls := ankurah.jsonb_nulls(TG_TABLE_NAME, newj);
    if nulls <> '{}' then
      NEW := jsonb_populate_record(NEW, nulls);
    end if;
    newj := ankurah.sql_row(TG_TABLE_NAME, newj);
    select coalesce(jsonb_object_agg(n.key, n.value), '{}') into ops
      from jsonb_each(newj) n
      where n.key <> 'id' and left(n.key, 1) <> '_' and n.value <> 'null'::jsonb;
    -- The creation event's id is the entity's id.
    insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
      values (NEW.id, TG_TABLE_NAME, NEW.id, '{}', ops, 'sql', session_user);
    NEW._head := array[NEW.id];
    NEW._versions := (select coalesce(jsonb_object_agg(k, NEW.id), '{}') from jsonb_object_keys(ops) k);
    return NEW;
  end if;

  -- UPDATE
  if NEW._head is distinct from OLD._head then
    raise exception using errcode = 'AK003',
      message = format('%s %s: _head is written by ankurah, not by SQL', TG_TABLE_NAME, NEW.id),
      hint = 'leave the system columns _head and _versions out of INSERT and UPDATE';
  end if;
  if NEW.id is distinct from OLD.id then
    raise exception using errcode = 'AK003', message = format('%s %s: an entity id never changes', TG_TABLE_NAME, OLD.id);
  end if;
  newj := to_jsonb(NEW);
  nulls := ankurah.jsonb_nulls(TG_TABLE_NAME, newj);
  if nulls <> '{}' then
    NEW := jsonb_populate_record(NEW, nulls);
  end if;
  newj := ankurah.sql_row(TG_TABLE_NAME, newj);
  oldj := ankurah.sql_row(TG_TABLE_NAME, to_jsonb(OLD));
  -- Compared as text so that jsonb 1 → 1.0 counts as a change.
  select coalesce(jsonb_object_agg(n.key, n.value), '{}') into ops
    from jsonb_each(newj) n
    where n.key <> 'id' and left(n.key, 1) <> '_' and n.value::text is distinct from (oldj -> n.key)::text;
  NEW._versions := OLD._versions;
  if ops = '{}' then
    return NEW; -- nothing changed: no event
  end if;
  ev := ankurah.new_ulid((select max(h collate "C") from unnest(OLD._head) h));
  insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
    values (ev, TG_TABLE_NAME, NEW.id, OLD._head, ops, 'sql', session_user);
  NEW._head := array[ev];
  NEW._versions := OLD._versions || (select jsonb_object_agg(k, ev) from jsonb_object_keys(ops) k);
  return NEW;
end $$;

create or replace function ankurah.on_delete() returns trigger
language plpgsql as $$
begin
  insert into ankurah.events (id, collection, entity_id, parents, operations, tombstone, origin, author)
    values (ankurah.new_ulid((select max(h collate "C") from unnest(OLD._head) h)),
            TG_TABLE_NAME, OLD.id, OLD._head, '{}', true, 'sql', session_user);
  return null;
end $$;

create or replace function ankurah.on_truncate() returns trigger
language plpgsql as $$
begin
  raise exception using errcode = 'AK007',
    message = format('TRUNCATE %s would bypass the event history', TG_TABLE_NAME),
    hint = format('use DELETE FROM %I (each deleted row is recorded as a tombstone event)', TG_TABLE_NAME);
end $$;

create or replace function ankurah.events_append_only() returns trigger
language plpgsql as $$
begin
  raise exception using errcode = 'AK008', message = 'ankurah.events is append-only';
end $$;

create or replace trigger events_append_only before update or delete on ankurah.events
  for each row execute function ankurah.events_append_only();
