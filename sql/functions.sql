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
--   AK020  a ytext field's document is out of step with its column (text.sql)

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

-- Field types. A field's type is a canonical name (value.Type's String in
-- Go, which parses the same spellings): text, varchar(n), char(n), bpchar,
-- smallint, integer, bigint, numeric, numeric(p,s), real, double precision,
-- boolean, bytea, uuid, date, time(p), timestamp(p), timestamptz(p),
-- interval(p), json, jsonb, ref, enum('label', …), and one-dimensional
-- arrays of them (type[]; not of ref). Two functions produce it, and
-- adoption of existing tables reuses them:
--   ankurah.normalize_type(spelling): from what a user writes (aliases,
--     any case and spacing, or the name of an existing enum or domain);
--   ankurah.field_type_of(type oid, typmod): from a column's type in
--     pg_catalog. A domain is its base type (Postgres enforces the
--     domain's constraints); an enum lists its labels in their order.
-- ankurah.column_ddl gives the column type create_collection creates.

-- squeeze_type lowercases a type spelling outside quoted labels and
-- reduces its spacing as Go's normalizeTypeName does.
create or replace function ankurah.squeeze_type(t text) returns text
language plpgsql immutable strict as $$
declare
  out text := '';
  c text;
  i int := 1;
  j int;
  n int := length(t);
  space boolean := false;
begin
  while i <= n loop
    c := substr(t, i, 1);
    if c = '''' then
      j := i + 1;
      loop
        if j > n then
          raise exception using errcode = 'AK002', message = format('type %L: unterminated quoted label', t);
        end if;
        if substr(t, j, 1) = '''' then
          exit when substr(t, j + 1, 1) is distinct from '''';
          j := j + 2;
        else
          j := j + 1;
        end if;
      end loop;
      if space and out <> '' and right(out, 1) not in ('(', ',', '[', ']') then
        out := out || ' ';
      end if;
      space := false;
      out := out || substr(t, i, j - i + 1);
      i := j + 1;
      continue;
    elsif c in (' ', E'\t', E'\n', E'\r') then
      space := true;
    elsif c in ('(', ')', ',', '[', ']') then
      space := false;
      out := out || c;
    else
      if space and out <> '' and right(out, 1) not in ('(', ',', '[', ']') then
        out := out || ' ';
      end if;
      space := false;
      out := out || lower(c);
    end if;
    i := i + 1;
  end loop;
  return out;
end $$;

-- enum_text writes the canonical name of an enum with these labels.
create or replace function ankurah.enum_text(labels text[]) returns text
language sql immutable strict as $$
  select 'enum(' || string_agg('''' || replace(l, '''', '''''') || '''', ', ' order by i) || ')'
  from unnest(labels) with ordinality u(l, i)
$$;

-- parse_labels reads 'a', 'b', … (squeezed, or canonical with ', ').
create or replace function ankurah.parse_labels(s text) returns text[]
language plpgsql immutable strict as $$
declare
  out text[] := '{}';
  i int := 1;
  j int;
  n int := length(s);
  l text;
begin
  while i <= n loop
    if substr(s, i, 1) <> '''' then
      raise exception using errcode = 'AK002', message = format('enum labels %L: want quoted labels', s);
    end if;
    l := '';
    j := i + 1;
    loop
      if j > n then
        raise exception using errcode = 'AK002', message = format('enum labels %L: unterminated label', s);
      end if;
      if substr(s, j, 1) = '''' then
        if substr(s, j + 1, 1) = '''' then
          l := l || '''';
          j := j + 2;
          continue;
        end if;
        exit;
      end if;
      l := l || substr(s, j, 1);
      j := j + 1;
    end loop;
    if l = '' or octet_length(l) > 63 then
      raise exception using errcode = 'AK002', message = format('enum label %L: a label has 1 to 63 bytes', l);
    end if;
    if l = any(out) then
      raise exception using errcode = 'AK002', message = format('enum label %L appears twice', l);
    end if;
    out := out || l;
    i := j + 1;
    if i <= n then
      if substr(s, i, 1) <> ',' or i = n then
        raise exception using errcode = 'AK002', message = format('enum labels %L: want , between labels', s);
      end if;
      i := i + 1;
      while substr(s, i, 1) = ' ' loop -- the canonical form has ', '
        i := i + 1;
      end loop;
    end if;
  end loop;
  if cardinality(out) = 0 then
    raise exception using errcode = 'AK002', message = 'an enum needs at least one label';
  end if;
  return out;
end $$;

-- builtin_type returns the canonical name of a type spelling that names no
-- database type (aliases, modifiers, enum(…), arrays), or NULL when the
-- spelling is not one of those.
create or replace function ankurah.builtin_type(t text) returns text
language plpgsql immutable as $$
declare
  s text := ankurah.squeeze_type(t);
  arr boolean := false;
  m text[];
  base text;
  args text;
  p int;
  sc int;
  out text;
begin
  if s is null then
    return null;
  end if;
  if s like '%[]' then
    arr := true;
    s := left(s, -2);
  end if;
  if s ~ '^enum\(.*\)$' then
    out := ankurah.enum_text(ankurah.parse_labels(substr(s, 6, length(s) - 6)));
  else
    m := regexp_match(s, '^([a-z0-9 ]+?)(?:\(([-0-9,]+)\))?((?: [a-z ]+)?)$');
    if m is null then
      return null;
    end if;
    base := m[1] || m[3];
    args := m[2];
    if args is null then
      out := case base
        when 'text' then 'text' when 'string' then 'text'
        when 'bigint' then 'bigint' when 'int8' then 'bigint'
        when 'integer' then 'integer' when 'int' then 'integer' when 'int4' then 'integer'
        when 'smallint' then 'smallint' when 'int2' then 'smallint'
        when 'double precision' then 'double precision' when 'float' then 'double precision'
        when 'float8' then 'double precision' when 'double' then 'double precision'
        when 'real' then 'real' when 'float4' then 'real'
        when 'boolean' then 'boolean' when 'bool' then 'boolean'
        when 'bytea' then 'bytea' when 'bytes' then 'bytea'
        when 'jsonb' then 'jsonb' when 'json' then 'json'
        when 'ref' then 'ref' when 'uuid' then 'uuid' when 'date' then 'date'
        when 'numeric' then 'numeric' when 'decimal' then 'numeric'
        when 'varchar' then 'varchar' when 'character varying' then 'varchar'
        when 'char' then 'char(1)' when 'character' then 'char(1)' when 'bpchar' then 'bpchar'
        when 'time' then 'time' when 'time without time zone' then 'time'
        when 'timestamp' then 'timestamp' when 'timestamp without time zone' then 'timestamp'
        when 'timestamptz' then 'timestamptz' when 'timestamp with time zone' then 'timestamptz'
        when 'interval' then 'interval'
        when 'ytext' then 'ytext'
      end;
    elsif base in ('numeric', 'decimal') and args ~ '^-?[0-9]{1,5}(,-?[0-9]{1,5})?$' then
      p := split_part(args, ',', 1)::int;
      sc := coalesce(nullif(split_part(args, ',', 2), '')::int, 0);
      if p < 1 or p > 1000 then
        raise exception using errcode = 'AK002', message = format('type %L: NUMERIC precision %s must be between 1 and 1000', t, p);
      end if;
      if sc < -1000 or sc > 1000 then
        raise exception using errcode = 'AK002', message = format('type %L: NUMERIC scale %s must be between -1000 and 1000', t, sc);
      end if;
      out := format('numeric(%s,%s)', p, sc);
    elsif base in ('varchar', 'character varying', 'char', 'character') and args ~ '^[0-9]{1,9}$' then
      p := args::int;
      if p < 1 or p > 10485760 then
        raise exception using errcode = 'AK002', message = format('type %L: length must be between 1 and 10485760', t);
      end if;
      out := case when base in ('varchar', 'character varying') then 'varchar' else 'char' end || '(' || p || ')';
    elsif args ~ '^[0-9]{1,2}$' and base in ('time', 'time without time zone', 'timestamp', 'timestamp without time zone',
                                              'timestamptz', 'timestamp with time zone', 'interval') then
      p := args::int;
      if p > 6 then
        raise exception using errcode = 'AK002', message = format('type %L: the precision must be between 0 and 6', t);
      end if;
      out := case base when 'time without time zone' then 'time' when 'timestamp without time zone' then 'timestamp'
                       when 'timestamp with time zone' then 'timestamptz' else base end || '(' || p || ')';
    end if;
    if out is null then
      return null;
    end if;
  end if;
  if arr then
    if out = 'ref' then
      raise exception using errcode = 'AK002', message = format('type %L: arrays of refs are not supported (use text[])', t);
    end if;
    if out = 'ytext' then
      raise exception using errcode = 'AK002', message = format('type %L: arrays of ytext are not supported (a ytext field is one document)', t);
    end if;
    if out like '%[]' then
      raise exception using errcode = 'AK002', message = format('type %L: arrays of arrays are not supported', t);
    end if;
    out := out || '[]';
  end if;
  return out;
end $$;

-- field_type_of maps a column's type (pg_attribute's atttypid and
-- atttypmod) to a field type, or raises AK002 saying why it cannot.
create or replace function ankurah.field_type_of(typid oid, typmod int) returns text
language plpgsql stable as $$
declare
  ty record;
  out text;
  rng int;
  prec int;
begin
  select t.oid, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typtypmod
    into ty from pg_type t where t.oid = typid;
  if not found then
    raise exception using errcode = 'AK002', message = format('type %s does not exist', typid);
  end if;
  if ty.typtype = 'd' then
    return ankurah.field_type_of(ty.typbasetype, ty.typtypmod);
  end if;
  if ty.typtype = 'e' then
    return (select ankurah.enum_text(array_agg(e.enumlabel::text order by e.enumsortorder))
            from pg_enum e where e.enumtypid = typid);
  end if;
  if ty.typcategory = 'A' and ty.typelem <> 0 then
    out := ankurah.field_type_of(ty.typelem, typmod);
    if out like '%[]' then
      raise exception using errcode = 'AK002', message = format('%s: arrays of arrays are not supported', format_type(typid, typmod));
    end if;
    return out || '[]';
  end if;
  out := case typid
    when 'int2'::regtype then 'smallint'
    when 'int4'::regtype then 'integer'
    when 'int8'::regtype then 'bigint'
    when 'float4'::regtype then 'real'
    when 'float8'::regtype then 'double precision'
    when 'bool'::regtype then 'boolean'
    when 'text'::regtype then 'text'
    when 'uuid'::regtype then 'uuid'
    when 'date'::regtype then 'date'
    when 'bytea'::regtype then 'bytea'
    when 'json'::regtype then 'json'
    when 'jsonb'::regtype then 'jsonb'
    when 'numeric'::regtype then
      case when typmod < 0 then 'numeric'
           else format('numeric(%s,%s)', ((typmod - 4) >> 16) & 65535, (((typmod - 4) & 2047) # 1024) - 1024) end
    when 'varchar'::regtype then case when typmod < 0 then 'varchar' else format('varchar(%s)', typmod - 4) end
    when 'bpchar'::regtype then case when typmod < 0 then 'bpchar' else format('char(%s)', typmod - 4) end
    when 'time'::regtype then case when typmod < 0 then 'time' else format('time(%s)', typmod) end
    when 'timestamp'::regtype then case when typmod < 0 then 'timestamp' else format('timestamp(%s)', typmod) end
    when 'timestamptz'::regtype then case when typmod < 0 then 'timestamptz' else format('timestamptz(%s)', typmod) end
  end;
  if out is not null then
    return out;
  end if;
  if typid = 'interval'::regtype then
    if typmod < 0 then
      return 'interval';
    end if;
    rng := (typmod >> 16) & 32767;
    prec := typmod & 65535;
    if rng <> 32767 then
      raise exception using errcode = 'AK002',
        message = format('%s: intervals restricted to some fields are not supported', format_type(typid, typmod)),
        hint = 'use interval or interval(p)';
    end if;
    return case when prec = 65535 then 'interval' else format('interval(%s)', prec) end;
  end if;
  raise exception using errcode = 'AK002',
    message = format('type %s is not supported as a field type', format_type(typid, typmod)),
    hint = 'supported: text, varchar, char, smallint, integer, bigint, numeric, real, double precision, boolean, bytea, uuid, date, time, timestamp, timestamptz, interval, json, jsonb, enums, domains over these, and one-dimensional arrays of them';
end $$;

-- named_type resolves a spelling that builtin_type does not know as the
-- name of an existing enum or domain type (with [] for its arrays), or
-- NULL. Built-in types are known by their spellings only: to_regtype would
-- take 'interval year to month' for interval.
create or replace function ankurah.named_type(t text) returns regtype
language plpgsql stable as $$
declare
  r regtype;
begin
  r := to_regtype(btrim(t));
  if r is null or not exists (
      select 1 from pg_type ty left join pg_type el on el.oid = ty.typelem and ty.typcategory = 'A'
      where ty.oid = r and (ty.typtype in ('e', 'd') or el.typtype in ('e', 'd'))) then
    return null;
  end if;
  return r;
exception when others then
  return null; -- not even a name
end $$;

-- normalize_type returns the canonical field type of a spelling (see above).
create or replace function ankurah.normalize_type(t text) returns text
language plpgsql stable as $$
declare
  out text := ankurah.builtin_type(t);
  named regtype;
begin
  if out is not null then
    return out;
  end if;
  named := ankurah.named_type(t);
  if named is null then
    raise exception using errcode = 'AK002',
      message = format('unknown field type %L', t),
      hint = 'use text, varchar(n), char(n), smallint, integer, bigint, numeric(p,s), real, double precision, boolean, bytea, uuid, date, time, timestamp, timestamptz, interval, json, jsonb, ref, enum(''label'', …), ytext, the name of an enum or domain type, or one of these followed by []';
  end if;
  return ankurah.field_type_of(named, -1);
end $$;

-- column_ddl returns the column type that create_collection gives field
-- `field` of collection `coll` in schema `sch` for the spelling t whose
-- canonical type is ft. Text-like columns use the C collation (bytewise
-- order, like the evaluator's). An enum(…) type that names no database
-- type gets one: type <coll>_<field> in the collection's schema, created
-- with these labels, or reused when it has exactly these labels.
create or replace function ankurah.column_ddl(sch text, coll text, field text, t text, ft text) returns text
language plpgsql as $$
declare
  arr boolean := ft like '%[]';
  base text := case when ft like '%[]' then left(ft, -2) else ft end;
  tname text;
  existing oid;
begin
  if ankurah.builtin_type(t) is null then
    return format_type(ankurah.named_type(t), null);
  end if;
  if base like 'enum(%' then
    tname := coll || '_' || field;
    if octet_length(tname) > 63 then
      tname := left(tname, 54) || '_' || left(md5(coll || '.' || field), 8);
    end if;
    select ty.oid into existing from pg_type ty where ty.typname = tname and ty.typnamespace = sch::regnamespace;
    if found then
      if ankurah.field_type_of(existing, -1) is distinct from base then
        raise exception using errcode = 'AK002',
          message = format('type %I.%I exists and is not %s', sch, tname, base);
      end if;
    else
      execute format('create type %I.%I as enum (%s)', sch, tname,
        (select string_agg(quote_literal(l), ', ' order by i)
         from unnest(ankurah.parse_labels(substr(base, 6, length(base) - 6))) with ordinality u(l, i)));
    end if;
    return format('%I.%I', sch, tname) || case when arr then '[]' else '' end;
  end if;
  if base in ('text', 'ref', 'varchar', 'bpchar', 'ytext') or base ~ '^(varchar|char)\(' then
    return case when base in ('ref', 'ytext') then 'text' else base end || case when arr then '[]' else '' end || ' collate "C"';
  end if;
  return ft;
end $$;

-- column_type is the column type of a canonical field type, for callers
-- of earlier versions (create_collection uses column_ddl).
create or replace function ankurah.column_type(t text) returns text
language sql immutable as $$
  select case when t in ('text', 'ref') then 'text collate "C"' else t end
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
  col record;
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
      -- A column that exists already (added with SQL, or generated) becomes
      -- the field when its type is the field's.
      select a.atttypid, a.atttypmod into col from pg_attribute a
        where a.attrelid = format('%I.%I', sch, coll)::regclass and a.attname = f.key and a.attnum > 0 and not a.attisdropped;
      if found then
        if ankurah.field_type_of(col.atttypid, col.atttypmod) <> (case when t = 'ref' then 'text' else t end) then
          raise exception using errcode = 'AK002',
            message = format('column %s.%s exists with type %s, not %s', coll, f.key, format_type(col.atttypid, col.atttypmod), t);
        end if;
      else
        execute format('alter table %I.%I add column %I %s', sch, coll, f.key,
          ankurah.column_ddl(sch, coll, f.key, f.value #>> '{}', t));
      end if;
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

-- sql_row returns a row's fields as they go into an event: each value in
-- its natural JSON form (docs/types.md), the form Go's value.AppendJSON
-- writes for API writes, so that an event's operations do not depend on who
-- wrote it. to_jsonb gives that form for most types, printed with the
-- settings on_write pins (extra_float_digits, IntervalStyle, bytea_output);
-- here: timestamptz becomes UTC RFC 3339 with
-- microseconds, numeric becomes its text (a JSON string: exact in every
-- client), arrays get the same per element, a jsonb or json `null` document
-- is the same as SQL NULL (an event cannot tell them apart), and values
-- Ankurah cannot represent are refused (AK002): dates and timestamps
-- outside the years 1–9999 or infinite, multidimensional arrays.
create or replace function ankurah.sql_row(coll text, row_json jsonb) returns jsonb
language plpgsql stable as $$
declare
  f record;
  v jsonb;
  t timestamptz;
  base text;
  out jsonb := row_json;
begin
  for f in select fl.name, fl.type from ankurah.fields fl
           where fl.collection = coll and (fl.type like 'timestamp%' or fl.type like 'date%' or fl.type like 'numeric%' or fl.type like '%[]') loop
    v := out -> f.name;
    continue when v is null or v = 'null'::jsonb;
    base := split_part(split_part(f.type, '(', 1), '[', 1); -- numeric(10,2)[] → numeric
    if f.type like '%[]' then
      if jsonb_typeof(v) <> 'array' or exists (select 1 from jsonb_array_elements(v) e where jsonb_typeof(e) = 'array') then
        raise exception using errcode = 'AK002',
          message = format('%s.%s: multidimensional arrays are not supported', coll, f.name),
          hint = 'a field holds a one-dimensional array';
      end if;
      if base in ('timestamptz', 'timestamp', 'date', 'numeric') then
        v := (select coalesce(jsonb_agg(ankurah.json_value(base, e, coll, f.name) order by i), '[]')
              from jsonb_array_elements(v) with ordinality a(e, i));
      end if;
    elsif base = 'numeric' then
      v := to_jsonb(v #>> '{}'); -- inline: the common cases cost no call
    elsif base = 'timestamptz' then
      t := (v #>> '{}')::timestamptz;
      if not isfinite(t) or extract(year from t at time zone 'UTC') not between 1 and 9999 then
        raise exception using errcode = 'AK002',
          message = format('%s.%s: timestamp %s is outside the years 1–9999', coll, f.name, v #>> '{}');
      end if;
      v := to_jsonb(to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
    else
      v := ankurah.json_value(base, v, coll, f.name);
    end if;
    out := jsonb_set(out, array[f.name], v);
  end loop;
  return out;
end $$;

-- json_value normalises one value of a timestamptz, timestamp, date or
-- numeric field (see sql_row).
create or replace function ankurah.json_value(base text, v jsonb, coll text, field text) returns jsonb
language plpgsql stable as $$
declare
  s text := v #>> '{}';
  t timestamptz;
begin
  if v = 'null'::jsonb then
    return v;
  end if;
  case base
  when 'numeric' then
    return to_jsonb(s);
  when 'timestamptz' then
    t := s::timestamptz;
    if not isfinite(t) or extract(year from t at time zone 'UTC') not between 1 and 9999 then
      raise exception using errcode = 'AK002',
        message = format('%s.%s: timestamp %s is outside the years 1–9999', coll, field, s);
    end if;
    return to_jsonb(to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
  else -- timestamp, date: to_jsonb's ISO form already, when Ankurah can hold it
    if s !~ (case base when 'date' then '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' else '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+$' end)
       or s like '0000%' then
      raise exception using errcode = 'AK002',
        message = format('%s.%s: %s %s is outside the years 1–9999', coll, field, base, s),
        hint = 'infinite values and BC dates are not supported';
    end if;
    return v;
  end case;
end $$;

-- jsonb_nulls returns {field: null} for the jsonb and json fields whose
-- value is the `null` document, to be set to SQL NULL (see sql_row).
create or replace function ankurah.jsonb_nulls(coll text, row_json jsonb) returns jsonb
language sql stable as $$
  select coalesce(jsonb_object_agg(fl.name, null), '{}') from ankurah.fields fl
  where fl.collection = coll and fl.type in ('jsonb', 'json') and row_json -> fl.name = 'null'::jsonb
$$;

-- generated_columns lists a table's generated columns: derived from the
-- row, they are not part of its history (and a BEFORE trigger sees them
-- NULL, so an UPDATE would seem to unset them).
create or replace function ankurah.generated_columns(rel oid) returns name[]
language sql stable as $$
  select coalesce(array_agg(a.attname), '{}') from pg_attribute a
  where a.attrelid = rel and a.attgenerated <> '' and a.attnum > 0 and not a.attisdropped
$$;

-- on_write pins the settings that shape to_jsonb's text (see sql_row) for
-- its own duration; the session's are restored when it returns. (DateStyle
-- and TimeZone need no pin: to_jsonb writes dates and times in ISO form
-- whatever DateStyle says, and sql_row converts timestamptz to UTC.)
create or replace function ankurah.on_write() returns trigger
language plpgsql
set extra_float_digits = 1 set intervalstyle = 'iso_8601' set bytea_output = 'hex'
as $$
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
    -- (A generated column is NULL in a BEFORE trigger's NEW: left out above.)
    ops := ankurah.ytext_ops(TG_TABLE_NAME, NEW.id, ops, null); -- ytext fields: Yjs edits (text.sql)
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
  -- A generated column is NULL in a BEFORE trigger's NEW, so it looks set to
  -- NULL here: it is not history. Only then is the catalog asked.
  if exists (select 1 from jsonb_each(ops) o where o.value = 'null'::jsonb) then
    ops := ops - ankurah.generated_columns(TG_RELID)::text[];
  end if;
  NEW._versions := OLD._versions;
  if ops = '{}' then
    return NEW; -- nothing changed: no event
  end if;
  ops := ankurah.ytext_ops(TG_TABLE_NAME, NEW.id, ops, oldj); -- ytext fields: Yjs edits (text.sql)
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
  perform ankurah.ytext_forget(TG_TABLE_NAME, OLD.id);
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
