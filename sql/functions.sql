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
--   AK009  a table of that name exists and is not a collection (adopt it)
--   AK010  a write marked as an API write by a role that may not make them
--   AK011  a table that cannot be adopted (the message says why)
--   AK012  Postgres's limit of 1,600 columns per table
--   AK013  an adopted table has no column for that field (Ankurah does not
--          alter an app's tables: add the column with ALTER TABLE)

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
  -- 80 random bits from one v4 UUID: its bytes 0-4 and 9-13 are all random
  -- (the version and variant bits are in bytes 6 and 8).
  u bytea := uuid_send(gen_random_uuid());
  ms bigint := floor(extract(epoch from clock_timestamp()) * 1000);
  a bigint := (get_byte(u, 0)::bigint << 32) | (get_byte(u, 1)::bigint << 24) | (get_byte(u, 2) << 16) | (get_byte(u, 3) << 8) | get_byte(u, 4);
  b bigint := (get_byte(u, 9)::bigint << 32) | (get_byte(u, 10)::bigint << 24) | (get_byte(u, 11) << 16) | (get_byte(u, 12) << 8) | get_byte(u, 13);
  r text;
  result text;
begin
  -- One expression (no loop): Crockford base32 of the 48-bit time, then of
  -- the 80 random bits.
  r := substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 35) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 30) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 25) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 20) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 15) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 10) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 5) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((a >> 0) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 35) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 30) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 25) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 20) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 15) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 10) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 5) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b >> 0) & 31)::int + 1, 1);
  result := substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 45) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 40) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 35) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 30) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 25) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 20) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 15) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 10) & 31)::int + 1, 1) ||
    substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 5) & 31)::int + 1, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> 0) & 31)::int + 1, 1) || r;
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

-- system_column_names are the columns every Postgres table has: no field
-- may be called like them.
create or replace function ankurah.is_system_column(name text) returns boolean
language sql immutable as $$
  select name in ('ctid', 'xmin', 'cmin', 'xmax', 'cmax', 'tableoid')
$$;

-- check_name checks the name of a collection or field that Ankurah is to
-- create (a table or a column). Names of existing tables and columns
-- (adopted ones) may be any identifier; those Ankurah creates are plain.
create or replace function ankurah.check_name(kind text, name text) returns void
language plpgsql immutable as $$
begin
  if kind = 'field' and ankurah.is_system_column(name) then
    raise exception using errcode = 'AK006',
      message = format('bad field name %L: every Postgres table has a system column of that name', name),
      hint = format('choose another name, e.g. %s_value', name);
  end if;
  if name is null or name !~ '^[a-z][a-z0-9_]{0,62}$' or (kind = 'field' and name = 'id') then
    raise exception using errcode = 'AK006',
      message = format('bad %s name %L', kind, name),
      hint = 'names use lowercase letters, digits and _, start with a letter, have at most 63 characters; _ prefixes are reserved and a field may not be called id';
  end if;
end $$;

-- in_ddl marks, for the rest of the transaction or until cleared, that
-- Ankurah itself is changing tables: the event trigger (on_ddl) then leaves
-- the catalog alone, since the function doing it keeps it up to date.
create or replace function ankurah.in_ddl(on_ boolean) returns void
language sql volatile as $$
  select set_config('ankurah.in_ddl', case when on_ then 'on' else '' end, true)
$$;

-- record_change appends a schema change (see migrations/00002) and bumps
-- the collection's version.
create or replace function ankurah.record_change(coll text, kind text, field text default null,
  old_name text default null, old_type text default null, new_type text default null, detail text default null)
returns void language plpgsql volatile as $$
begin
  insert into ankurah.schema_changes (id, collection, kind, field, old_name, old_type, new_type, detail)
    values (ankurah.new_ulid((select max(id) from ankurah.schema_changes)), coll, kind, field, old_name, old_type, new_type, detail);
  update ankurah.collections set version = version + 1 where name = coll;
end $$;

-- collection_triggers (re)creates the triggers of a collection table
-- Ankurah created. Each gets the collection's name as its argument (the
-- table may be renamed; the collection keeps its name).
create or replace function ankurah.collection_triggers(coll text, rel regclass) returns void
language plpgsql volatile as $$
begin
  -- Writes through the API record their events themselves and mark each
  -- statement that writes the collection's table (ankurah.writer =
  -- 'api:<collection>'), so the row triggers skip them without even
  -- calling a function — but not the writes of the app's own triggers to
  -- other tables, which are recorded as SQL writes. Only members of role
  -- ankurah_writer may mark writes so (ankurah_api_writes).
  execute format($f$create or replace trigger ankurah_write before insert or update on %s for each row
    when (current_setting('ankurah.writer', true) is distinct from %L)
    execute function ankurah.on_write(%L)$f$, rel, 'api:' || coll, coll);
  execute format($f$create or replace trigger ankurah_delete after delete on %s for each row
    when (current_setting('ankurah.writer', true) is distinct from %L)
    execute function ankurah.on_delete(%L)$f$, rel, 'api:' || coll, coll);
  execute format('create or replace trigger ankurah_truncate before truncate on %s for each statement execute function ankurah.on_truncate(%L)', rel, coll);
  execute format($f$create or replace trigger ankurah_api_writes before insert or update or delete on %s for each statement
    when (current_setting('ankurah.writer', true) like 'api%%')
    execute function ankurah.check_writer()$f$, rel);
end $$;

-- create_collection creates collection `name` (a table of the same name in
-- `table_schema`) with the given fields, e.g.
--   select ankurah.create_collection('album', '{"name":"text","year":"bigint"}');
-- It is idempotent and additive: an existing collection gets the fields it
-- lacks; a field that exists with another type is an error. Concurrent calls
-- are serialised per collection. Returns the collection's fields.
--
-- An adopted collection (an app's own table) is never altered: fields it
-- has are accepted as they are, and a field it lacks is an error (AK013).
-- A table of the same name that is not a collection is never taken over
-- (AK009: adopt it instead).
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
  c record;
  rel regclass;
  added boolean := false;
  known boolean;
begin
  if fields is null or jsonb_typeof(fields) <> 'object' then
    raise exception using errcode = 'AK002', message = 'fields must be a JSON object of field name to type, e.g. {"name":"text"}';
  end if;
  perform pg_advisory_xact_lock(hashtext('ankurah.collection'), hashtext(coll));

  select cl.table_schema, cl.table_name, cl.relid, cl.adopted, cl.state into c from ankurah.collections cl where cl.name = coll;
  known := found;
  if known and c.adopted then
    for f in select key from jsonb_each(fields) order by key loop
      if not exists (select 1 from ankurah.fields fl where fl.collection = coll and fl.name = f.key) then
        raise exception using errcode = 'AK013',
          message = format('collection %s is the adopted table %s.%s, which has no column for field %s', coll, c.table_schema, c.table_name, f.key),
          hint = format('Ankurah does not alter an app''s tables: add the column with ALTER TABLE %I.%I ADD COLUMN %I …, and the field follows', c.table_schema, c.table_name, f.key);
      end if;
    end loop;
    return (select coalesce(jsonb_object_agg(fl.name, fl.type order by fl.name), '{}')
            from ankurah.fields fl where fl.collection = coll);
  end if;
  perform ankurah.check_name('collection', coll);
  perform ankurah.in_ddl(true);
  if known then
    sch := c.table_schema;
    rel := c.relid;
  else
    if to_regclass(format('%I.%I', sch, coll)) is not null then
      raise exception using errcode = 'AK009',
        message = format('table %I.%I exists and is not a collection', sch, coll),
        hint = format('to make it a collection, adopt it: `ankurah adopt %s` (or select ankurah.adopt(%L)); or choose another collection name',
                      case when sch = 'public' then quote_ident(coll) else quote_ident(sch) || '.' || quote_ident(coll) end,
                      format('%I.%I', sch, coll));
    end if;
    execute format($f$
      create table %I.%I (
        id        text collate "C" primary key default ankurah.new_ulid(),
        _head     text[] collate "C" not null default '{}',
        _versions jsonb not null default '{}'
      )$f$, sch, coll);
    rel := format('%I.%I', sch, coll)::regclass;
    insert into ankurah.collections (name, table_schema, table_name, relid) values (coll, sch, coll, rel);
    perform ankurah.collection_triggers(coll, rel);
    -- Logical replication: UPDATE and DELETE carry the whole old row, so the
    -- fan-out can tell exactly when a row leaves a query and can fill
    -- unchanged TOASTed columns of the new row from the old one.
    execute format('alter table %s replica identity full', rel);
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
        where a.attrelid = rel and a.attname = f.key and a.attnum > 0 and not a.attisdropped;
      if found then
        if ankurah.field_type_of(col.atttypid, col.atttypmod) <> (case when t = 'ref' then 'text' else t end) then
          raise exception using errcode = 'AK002',
            message = format('column %s.%s exists with type %s, not %s', coll, f.key, format_type(col.atttypid, col.atttypmod), t);
        end if;
      else
        begin
          execute format('alter table %s add column %I %s', rel, f.key,
            ankurah.column_ddl(sch, coll, f.key, f.value #>> '{}', t));
        exception when program_limit_exceeded then
          raise exception using errcode = 'AK012',
            message = format('collection %s cannot have another field: its table has reached Postgres''s limit of 1,600 columns', coll),
            hint = 'dropped columns count until the table is rewritten; keep related values together in a jsonb field, or split the collection';
        end;
      end if;
      insert into ankurah.fields (collection, name, type, column_name, attnum, generated)
        select coll, f.key, t, f.key, a.attnum, a.attgenerated <> '' from pg_attribute a
        where a.attrelid = rel and a.attname = f.key and a.attnum > 0 and not a.attisdropped;
      added := true;
    end if;
  end loop;
  if added then
    update ankurah.collections cl set version = cl.version + 1 where cl.name = coll;
  end if;
  perform ankurah.in_ddl(false);

  return (select coalesce(jsonb_object_agg(fl.name, fl.type order by fl.name), '{}')
          from ankurah.fields fl where fl.collection = coll);
end $$;

-- ---------------------------------------------------------------------------
-- Publication: logical replication feeds the fan-out from publication
-- `ankurah`, which covers ankurah.events and every collection table.

-- publish adds table sch.tbl to publication ankurah, creating the
-- publication (with ankurah.events and ankurah.schema_changes) if needed.
create or replace function ankurah.publish(sch text, tbl text) returns void
language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtext('ankurah.publication'));
  if not exists (select 1 from pg_publication where pubname = 'ankurah') then
    create publication ankurah for table ankurah.events, ankurah.schema_changes;
  end if;
  if not exists (select 1 from pg_publication_tables p
                 where p.pubname = 'ankurah' and p.schemaname = sch and p.tablename = tbl) then
    execute format('alter publication ankurah add table %I.%I', sch, tbl);
  end if;
end $$;

-- An existing publication (from version 1) gets ankurah.schema_changes.
do $$
begin
  perform pg_advisory_xact_lock(hashtext('ankurah.publication'));
  if exists (select 1 from pg_publication where pubname = 'ankurah')
     and not exists (select 1 from pg_publication_tables p
                     where p.pubname = 'ankurah' and p.schemaname = 'ankurah' and p.tablename = 'schema_changes') then
    alter publication ankurah add table ankurah.schema_changes;
  end if;
end $$;

-- ---------------------------------------------------------------------------
-- Triggers on collection tables: plain SQL writes become events.
--
-- A write through the API records its events itself, in the same
-- transaction, sets ankurah.writer = 'api:<collection>' for its statements
-- that write the collection's table, and the triggers' WHEN clause skips
-- them. Any other write (plain SQL, which leaves
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
-- check_trigger refuses to run a trigger function for a table that is not
-- the collection's: the trigger functions write history with their
-- owner's rights (security definer, so that any role that may write a
-- collection's table gets its writes recorded), and must not write it for
-- whoever attaches them to a table of their own.
create or replace function ankurah.check_trigger(coll text, rel oid) returns void
language plpgsql stable as $$
begin
  if not exists (select 1 from ankurah.collections c where c.name = coll and c.relid = rel) then
    raise exception using errcode = 'AK003',
      message = format('trigger for collection %s on table %s, which is not its table', coll, rel::regclass),
      hint = 'the catalog may lag a rename: run select ankurah.sync_catalog()';
  end if;
end $$;

-- check_writer runs before each statement marked as an API write
-- (ankurah.writer = 'api:…', which makes the row triggers skip its rows:
-- the API records its events itself). Only members of role ankurah_writer
-- may mark writes so, or any SQL session could change rows without
-- history. Superusers are members of every role.
create or replace function ankurah.check_writer() returns trigger
language plpgsql stable as $$
begin
  if not exists (select 1 from pg_roles where rolname = 'ankurah_writer') then
    raise exception using errcode = 'AK010',
      message = 'role ankurah_writer does not exist: writes marked as API writes are refused',
      hint = format('as a superuser: create role ankurah_writer nologin; grant ankurah_writer to %I', current_user);
  end if;
  if not pg_has_role(current_user, 'ankurah_writer', 'MEMBER') then
    raise exception using errcode = 'AK010',
      message = format('role %s may not mark writes as API writes (ankurah.writer = ''api:…''): %s would change without history', current_user, TG_RELID::regclass),
      hint = 'write without setting ankurah.writer (every SQL write is recorded as an event), or have an administrator grant ankurah_writer to the server''s role';
  end if;
  return null;
end $$;

create or replace function ankurah.on_write() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set extra_float_digits = 1 set intervalstyle = 'iso_8601' set bytea_output = 'hex'
as $$
declare
  coll text := coalesce(TG_ARGV[0], TG_TABLE_NAME);
  ops jsonb;
  ev text;
  newj jsonb;
  oldj jsonb;
  nulls jsonb;
  live boolean;
begin
  perform ankurah.check_trigger(coll, TG_RELID);
  if TG_OP = 'INSERT' then
    if cardinality(NEW._head) > 0 then
      raise exception using errcode = 'AK003',
        message = format('%s %s: _head is written by ankurah, not by SQL', coll, NEW.id),
        hint = 'leave the system columns _head and _versions out of INSERT and UPDATE';
    end if;
    perform ankurah.check_id(NEW.id);
    if exists (select 1 from ankurah.events e where e.entity_id = NEW.id) then
      -- A live row with this id: let the INSERT meet its conflict (an
      -- error, or ON CONFLICT's action, whose UPDATE is recorded as usual).
      execute format('select exists (select 1 from %s where id = $1)', TG_RELID::regclass)
        into live using NEW.id;
      if live then
        return NEW;
      end if;
      raise exception using errcode = 'AK004',
        message = format('%s %s: id already used (deleted entities keep their ids and history)', coll, NEW.id);
    end if;
    newj := to_jsonb(NEW);
    nulls := ankurah.jsonb_nulls(coll, newj);
    if nulls <> '{}' then
      NEW := jsonb_populate_record(NEW, nulls);
    end if;
    newj := ankurah.sql_row(coll, newj);
    select coalesce(jsonb_object_agg(n.key, n.value), '{}') into ops
      from jsonb_each(newj) n
      where n.key <> 'id' and left(n.key, 1) <> '_' and n.value <> 'null'::jsonb;
    -- (A generated column is NULL in a BEFORE trigger's NEW: left out above.)
    ops := ankurah.ytext_ops(coll, NEW.id, ops, null); -- ytext fields: Yjs edits (text.sql)
    -- The creation event's id is the entity's id.
    insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
      values (NEW.id, coll, NEW.id, '{}', ops, 'sql', session_user);
    NEW._head := array[NEW.id];
    NEW._versions := (select coalesce(jsonb_object_agg(k, NEW.id), '{}') from jsonb_object_keys(ops) k);
    return NEW;
  end if;

  -- UPDATE
  if NEW._head is distinct from OLD._head then
    raise exception using errcode = 'AK003',
      message = format('%s %s: _head is written by ankurah, not by SQL', coll, NEW.id),
      hint = 'leave the system columns _head and _versions out of INSERT and UPDATE';
  end if;
  if NEW.id is distinct from OLD.id then
    raise exception using errcode = 'AK003', message = format('%s %s: an entity id never changes', coll, OLD.id);
  end if;
  newj := to_jsonb(NEW);
  nulls := ankurah.jsonb_nulls(coll, newj);
  if nulls <> '{}' then
    NEW := jsonb_populate_record(NEW, nulls);
  end if;
  newj := ankurah.sql_row(coll, newj);
  oldj := ankurah.sql_row(coll, to_jsonb(OLD));
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
  ops := ankurah.ytext_ops(coll, NEW.id, ops, oldj); -- ytext fields: Yjs edits (text.sql)
  ev := ankurah.new_ulid((select max(h collate "C") from unnest(OLD._head) h));
  insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
    values (ev, coll, NEW.id, OLD._head, ops, 'sql', session_user);
  NEW._head := array[ev];
  NEW._versions := OLD._versions || (select jsonb_object_agg(k, ev) from jsonb_object_keys(ops) k);
  return NEW;
end $$;

create or replace function ankurah.on_delete() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  coll text := coalesce(TG_ARGV[0], TG_TABLE_NAME);
begin
  perform ankurah.check_trigger(coll, TG_RELID);
  perform ankurah.ytext_forget(coll, OLD.id);
  insert into ankurah.events (id, collection, entity_id, parents, operations, tombstone, origin, author)
    values (ankurah.new_ulid((select max(h collate "C") from unnest(OLD._head) h)),
            coll, OLD.id, OLD._head, '{}', true, 'sql', session_user);
  return null;
end $$;

create or replace function ankurah.on_truncate() returns trigger
language plpgsql as $$
declare
  coll text := coalesce(TG_ARGV[0], TG_TABLE_NAME);
begin
  raise exception using errcode = 'AK007',
    message = format('TRUNCATE %s would bypass the event history', TG_RELID::regclass),
    hint = format('use DELETE FROM %s (each deleted row is recorded as a tombstone event)', TG_RELID::regclass);
end $$;

create or replace function ankurah.events_append_only() returns trigger
language plpgsql as $$
begin
  raise exception using errcode = 'AK008', message = 'ankurah.events is append-only';
end $$;

create or replace trigger events_append_only before update or delete on ankurah.events
  for each row execute function ankurah.events_append_only();

-- ---------------------------------------------------------------------------
-- Adopted tables: an app's existing table made a collection in place
-- (docs/architecture.md, "Adopted tables"). Nothing in the table changes
-- but triggers and its replica identity. Each row's entity id, head and
-- versions live in a side table ankurah."adopted_<oid>": id (the entity id:
-- the id of the row's creation event), k1…kn (the row's primary key, same
-- types), _head, _versions. Steps, each in a short transaction of its own
-- (ankurah adopt, or call ankurah.adopt(…), run them): adopt_start (the
-- catalog, state 'adopting', and the side table), adopt_triggers (from then
-- on every write of the app is recorded), adopt_publish (replica identity
-- full, publication), adopt_backfill in batches (a creation event for each
-- row that has none yet) and adopt_finish (state 'ready' once no row lacks
-- one). Running them again resumes.

-- adopted_name is the collection name a table gets by default: the table's
-- name in schema public, else schema.table.
create or replace function ankurah.adopted_name(rel regclass) returns text
language sql stable as $$
  select case when n.nspname = 'public' then c.relname::text else n.nspname || '.' || c.relname end
  from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = rel
$$;

-- adopted_field is the field name of column col of an adopted table:
-- the column's name, except id (which names the entity id): sql_id.
create or replace function ankurah.adopted_field(col text) returns text
language sql immutable as $$
  select case when col = 'id' then 'sql_id' else col end
$$;

-- key_columns lists a table's primary key columns, in key order.
create or replace function ankurah.key_columns(rel regclass) returns text[]
language sql stable as $$
  select array_agg(a.attname::text order by k.i)
  from pg_index x cross join lateral unnest(x.indkey) with ordinality k(attnum, i)
  join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum
  where x.indrelid = rel and x.indisprimary
$$;

-- table_columns lists a table's columns (sorted), as adopted tables'
-- triggers compare them with the catalog to notice a change of the table
-- the catalog has not followed yet.
create or replace function ankurah.table_columns(rel regclass) returns text[]
language sql stable as $$
  select coalesce(array_agg(a.attname::text order by a.attname::text), '{}') from pg_attribute a
  where a.attrelid = rel and a.attnum > 0 and not a.attisdropped
$$;

-- adoption_problems says what stands in the way of adopting table rel as
-- collection coll (with the given column → field renames): one row per
-- problem, blocking or not (a column Ankurah cannot represent is left
-- out of the collection and does not block), each with what to do.
create or replace function ankurah.adoption_problems(rel regclass, coll text default null, renames jsonb default '{}')
returns table (blocking boolean, problem text, fix text)
language plpgsql stable as $$
declare
  r record;
  a record;
  keys text[];
  cname text := coalesce(coll, ankurah.adopted_name(rel));
  seen text[] := '{}';
  fname text;
  ft text;
  existing record;
begin
  select c.relname, c.relkind, c.relpersistence, c.relispartition, n.nspname, c.relhassubclass
    into r from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = rel;
  if r.nspname in ('ankurah', 'pg_catalog', 'information_schema', 'pg_toast') then
    return query select true, format('%s is in schema %s, which is not an app''s', rel, r.nspname), 'adopt tables of your own schemas';
    return;
  end if;
  select c.name, c.adopted, c.state into existing from ankurah.collections c where c.relid = rel;
  if found then
    return query select true, format('%s is already collection %s', rel, existing.name)
      || case when existing.state = 'adopting' then ' (its adoption is under way or was interrupted)' else '' end,
      case when existing.state = 'adopting' then 'run ankurah adopt again to resume it' else 'nothing to do' end;
    return;
  end if;
  if r.relkind = 'p' then
    return query select true, format('%s is a partitioned table', rel), 'partitioned tables cannot be adopted yet; adopt a table that is not partitioned';
  elsif r.relkind <> 'r' then
    return query select true, format('%s is not a table (it is a %s)', rel,
      case r.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'f' then 'foreign table' else 'relation of kind ' || r.relkind::text end),
      'adopt the table it reads from';
    return;
  end if;
  if r.relispartition then
    return query select true, format('%s is a partition of another table', rel), 'partitions cannot be adopted yet';
  end if;
  if r.relhassubclass and exists (select 1 from pg_inherits i where i.inhparent = rel) then
    return query select true, format('%s has inheritance children, whose rows its triggers would not record', rel), 'adopt a table without inheritance children';
  end if;
  if r.relpersistence = 'u' then
    return query select true, format('%s is unlogged: logical replication cannot stream its changes', rel), format('ALTER TABLE %s SET LOGGED', rel);
  elsif r.relpersistence = 't' then
    return query select true, format('%s is a temporary table', rel), 'adopt a permanent table';
    return;
  end if;
  keys := ankurah.key_columns(rel);
  if keys is null then
    return query select true, format('%s has no primary key: Ankurah needs one to tell its rows apart', rel),
      format('add one, e.g. ALTER TABLE %s ADD PRIMARY KEY (a_unique_not_null_column), or ALTER TABLE %s ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY', rel, rel);
  end if;
  if cname is null or cname = '' or octet_length(cname) > 127 or left(cname, 1) = '_' or cname ~ '[[:cntrl:]]' then
    return query select true, format('collection name %L is not valid (1 to 127 bytes, not starting with _)', cname), 'choose one with --as NAME';
  elsif coll is null and (position('.' in r.relname) > 0 or (r.nspname <> 'public' and position('.' in r.nspname) > 0)) then
    return query select true, format('the name of %s contains a dot, so schema.table would be ambiguous', rel), 'choose the collection name with --as NAME';
  elsif exists (select 1 from ankurah.collections c where c.name = cname) then
    return query select true, format('collection %s exists already', cname), 'choose another collection name with --as NAME';
  end if;
  if renames is null or jsonb_typeof(renames) <> 'object' then
    return query select true, 'renames must be a JSON object of column to field name', 'pass --rename column=field';
    renames := '{}';
  end if;
  for a in select att.attname::text as attname, att.atttypid, att.atttypmod, att.attgenerated from pg_attribute att
           where att.attrelid = rel and att.attnum > 0 and not att.attisdropped order by att.attnum loop
    if renames ? a.attname then
      fname := renames ->> a.attname;
    else
      fname := ankurah.adopted_field(a.attname);
    end if;
    begin
      ft := ankurah.field_type_of(a.atttypid, a.atttypmod);
    exception when sqlstate 'AK002' then
      if a.attname = any(keys) then
        return query select true, format('primary key column %s has type %s, which Ankurah cannot represent', a.attname, format_type(a.atttypid, a.atttypmod)),
          'key columns must be of a supported type (integer, bigint, uuid, text, varchar, …: docs/types.md)';
      else
        return query select false, format('column %s (%s) is left out: Ankurah cannot represent its type', a.attname, format_type(a.atttypid, a.atttypmod)),
          'the column keeps working in SQL; it is not part of the collection or its history';
      end if;
      continue;
    end;
    if fname is null or fname = '' or octet_length(fname) > 63 or left(fname, 1) = '_' or fname = 'id' or fname ~ '[[:cntrl:]]' then
      return query select true, format('column %s cannot be field %L: field names have 1 to 63 bytes, do not start with _ and are not id (the entity id)', a.attname, fname),
        format('name its field with --rename %s=NAME', a.attname);
    elsif ankurah.is_system_column(fname) then
      return query select true, format('column %s cannot be field %s: every Postgres table has a system column of that name', a.attname, fname),
        format('name its field with --rename %s=NAME', a.attname);
    elsif fname = any(seen) then
      return query select true, format('two columns would be field %s', fname), format('name one of them with --rename COLUMN=NAME');
    end if;
    seen := seen || fname;
  end loop;
  for fname in select k from jsonb_object_keys(renames) k loop
    if not exists (select 1 from pg_attribute att where att.attrelid = rel and att.attname = fname and att.attnum > 0 and not att.attisdropped) then
      return query select true, format('--rename %s: %s has no column %s', fname, rel, fname), 'rename existing columns only';
    end if;
  end loop;
end $$;

-- adopt_start is adoption's first step: the catalog entry (state
-- 'adopting'), its fields and the side table. Returns the collection's
-- name. When the table's adoption was started before, it returns that
-- collection (resuming); a table already adopted is an error.
create or replace function ankurah.adopt_start(rel regclass, as_name text default null, renames jsonb default '{}')
returns text
language plpgsql as $$
declare
  coll text := coalesce(as_name, ankurah.adopted_name(rel));
  p record;
  keys text[];
  side text := 'adopted_' || rel::oid;
  a record;
  ft text;
  cols text := '';
  i int;
begin
  perform pg_advisory_xact_lock(hashtext('ankurah.collection'), hashtext(coll));
  select c.name into p from ankurah.collections c where c.relid = rel and c.state = 'adopting';
  if found then
    return p.name;
  end if;
  for p in select * from ankurah.adoption_problems(rel, as_name, coalesce(renames, '{}')) where blocking loop
    raise exception using errcode = 'AK011', message = format('cannot adopt %s: %s', rel, p.problem), hint = p.fix;
  end loop;
  perform ankurah.in_ddl(true);
  keys := ankurah.key_columns(rel);
  insert into ankurah.collections (name, table_schema, table_name, relid, adopted, state, side_table, key_columns)
    select coll, n.nspname, c.relname, rel, true, 'adopting', side, keys
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = rel;
  for a in select att.attname::text as attname, att.attnum, att.atttypid, att.atttypmod, att.attgenerated from pg_attribute att
           where att.attrelid = rel and att.attnum > 0 and not att.attisdropped order by att.attnum loop
    begin
      ft := ankurah.field_type_of(a.atttypid, a.atttypmod);
    exception when sqlstate 'AK002' then
      continue; -- left out (see adoption_problems)
    end;
    insert into ankurah.fields (collection, name, type, column_name, attnum, generated, pinned)
      values (coll, coalesce(renames ->> a.attname, ankurah.adopted_field(a.attname)), ft, a.attname, a.attnum,
              a.attgenerated <> '', renames ? a.attname);
  end loop;
  for i in 1 .. cardinality(keys) loop
    select format('k%s %s%s not null', i, format_type(att.atttypid, att.atttypmod),
                  case when att.attcollation <> 0 and co.collname is not null then format(' collate %I.%I', cn.nspname, co.collname) else '' end)
      into ft
      from pg_attribute att left join pg_collation co on co.oid = att.attcollation
      left join pg_namespace cn on cn.oid = co.collnamespace
      where att.attrelid = rel and att.attname = keys[i];
    cols := cols || ft || ', ';
  end loop;
  -- Room on each page for the next version of its rows: a side row changes
  -- with every write of its row, and an update that fits on its page
  -- changes no index (HOT).
  execute format('create table if not exists ankurah.%I (id text collate "C" primary key, %s _head text[] collate "C" not null, _versions jsonb not null default ''{}'', unique (%s)) with (fillfactor = 70)',
    side, cols, (select string_agg('k' || g, ', ') from generate_series(1, cardinality(keys)) g));
  -- The side table's replica identity: a DELETE streams the entity id and
  -- the key (to pair it with the table's delete); an UPDATE streams only
  -- the new row (the side table changes with every write: no old row).
  execute format('create unique index if not exists %I on ankurah.%I (id, %s)', side || '_identity', side,
    (select string_agg('k' || g, ', ') from generate_series(1, cardinality(keys)) g));
  update ankurah.collections set columns = ankurah.table_columns(rel) where name = coll;
  perform ankurah.refresh_refs();
  perform ankurah.in_ddl(false);
  return coll;
end $$;

-- side_match is the condition that matches a side table's row with the
-- row (of the adopted table's type) passed as parameter $n.
create or replace function ankurah.side_match(keys text[], n int) returns text
language sql immutable as $$
  select '(' || string_agg('k' || i, ', ' order by i) || ') = (' || string_agg(format('($%s).%I', n, k), ', ' order by i) || ')'
  from unnest(keys) with ordinality u(k, i)
$$;

-- side_keys is the list of the key values of the row passed as $n.
create or replace function ankurah.side_keys(keys text[], n int) returns text
language sql immutable as $$
  select string_agg(format('($%s).%I', n, k), ', ' order by i) from unnest(keys) with ordinality u(k, i)
$$;

-- adopt_triggers is adoption's second step: from its commit on, every
-- write of the app to the table is recorded. CREATE TRIGGER waits for the
-- transactions writing the table: the caller sets a lock_timeout and
-- tries again, so that the app's writes queue behind it only briefly.
create or replace function ankurah.adopt_triggers(coll text) returns void
language plpgsql as $$
declare
  c record;
begin
  select * into c from ankurah.collections where name = coll and adopted;
  if not found then
    raise exception using errcode = 'AK005', message = format('no adopted collection %s', coll);
  end if;
  perform ankurah.in_ddl(true);
  perform ankurah.adopted_function(coll);
  execute format('create or replace trigger ankurah_truncate before truncate on %s for each statement execute function ankurah.on_truncate(%L)', c.relid, coll);
  execute format($f$create or replace trigger ankurah_api_writes before insert or update or delete on %s for each statement
    when (current_setting('ankurah.writer', true) like 'api%%')
    execute function ankurah.check_writer()$f$, c.relid);
  perform ankurah.in_ddl(false);
end $$;

-- adopt_publish is adoption's third step: the table and its side table
-- stream whole old rows (replica identity full, as collection tables do)
-- and join the publication.
create or replace function ankurah.adopt_publish(coll text) returns void
language plpgsql as $$
declare
  c record;
begin
  select cl.relid, cl.side_table, n.nspname, r.relname, r.relreplident into c from ankurah.collections cl
    join pg_class r on r.oid = cl.relid join pg_namespace n on n.oid = r.relnamespace
    where cl.name = coll and cl.adopted;
  if not found then
    raise exception using errcode = 'AK005', message = format('no adopted collection %s', coll);
  end if;
  perform ankurah.in_ddl(true);
  if c.relreplident <> 'f' then
    execute format('alter table %s replica identity full', c.relid);
  end if;
  execute format('alter table ankurah.%I replica identity using index %I', c.side_table, c.side_table || '_identity');
  perform ankurah.publish('ankurah', c.side_table);
  perform ankurah.publish(c.nspname, c.relname);
  perform ankurah.in_ddl(false);
end $$;

-- nonnull leaves out the fields whose value is null: a creation event
-- records the fields a row has.
create or replace function ankurah.nonnull(ops jsonb) returns jsonb
language sql immutable as $$
  select coalesce(jsonb_object_agg(o.key, o.value), '{}') from jsonb_each(ops) o where o.value <> 'null'::jsonb
$$;

-- adopted_fields maps a row of an adopted table (to_jsonb) to its fields as
-- events record them (sql_row): field names, generated columns and columns
-- that are not fields left out.
create or replace function ankurah.adopted_fields(coll text, row_json jsonb) returns jsonb
language sql stable
set extra_float_digits = 1 set intervalstyle = 'iso_8601' set bytea_output = 'hex'
as $$
  select ankurah.sql_row(coll, coalesce(jsonb_object_agg(f.name, row_json -> f.column_name), '{}'))
  from ankurah.fields f where f.collection = coll and not f.generated and row_json ? f.column_name
$$;

-- adopt_backfill is adoption's fourth step, one batch at a time: up to
-- `batch` rows after key `after` (a JSON array of the key's values as
-- text; NULL: from the start) that have no side row yet get one, with a
-- creation event holding their non-NULL fields. The rows are locked FOR
-- KEY SHARE, so none is deleted meanwhile; an UPDATE of the app may race
-- (its trigger then records the creation of the row it updates), and the
-- side table's unique key makes exactly one of them create it (ON
-- CONFLICT DO NOTHING here). Returns the rows given a creation event, the
-- rows looked at, and the last key looked at (NULL: none left).
create or replace function ankurah.adopt_backfill(coll text, batch int, after jsonb default null)
returns table (created bigint, scanned bigint, last jsonb)
language plpgsql
set extra_float_digits = 1 set intervalstyle = 'iso_8601' set bytea_output = 'hex'
as $$
declare
  c record;
  tkeys text;
  kcols text;
  cmp text := 'true';
  scmp text := 'true';
  f record;
  fields text := '';
  strip text := 'jsonb_strip_nulls';
begin
  select * into c from ankurah.collections where name = coll and adopted;
  if not found then
    raise exception using errcode = 'AK005', message = format('no adopted collection %s', coll);
  end if;
  select string_agg(format('t.%I', k), ', ' order by i), string_agg('k' || i, ', ' order by i)
    into tkeys, kcols from unnest(c.key_columns) with ordinality u(k, i);
  -- Each row's fields as events record them, column by column (as the
  -- adopted table's own trigger function does).
  for f in select fl.name, fl.type, fl.column_name from ankurah.fields fl
           where fl.collection = coll and not fl.generated order by fl.attnum loop
    fields := fields || case when fields = '' then '' else ', ' end || format('%L, %s', f.name, ankurah.adopted_value(coll, f, '(cand._row)'));
    if f.type in ('json', 'jsonb') or f.type like 'json%[]' then
      strip := 'ankurah.nonnull';
    end if;
  end loop;
  if after is not null then
    select format('(%s) > (%s)', tkeys, string_agg(format('($3->>%s)::%s', i - 1, format_type(a.atttypid, a.atttypmod)), ', ' order by i)),
           format('(%s) > (%s)', string_agg('s.k' || i, ', ' order by i), string_agg(format('($3->>%s)::%s', i - 1, format_type(a.atttypid, a.atttypmod)), ', ' order by i))
      into cmp, scmp from unnest(c.key_columns) with ordinality u(k, i)
      join pg_attribute a on a.attrelid = c.relid and a.attname = u.k;
  end if;
  return query execute format($q$
    with cand as materialized (
      select t as _row, %1$s
      from %2$s t
      where %3$s and not exists (select 1 from ankurah.%4$I s where (%5$s) = (%6$s) and %13$s)
      order by %6$s limit $2
      for key share of t),
    rows as materialized (
      select cand.*, ankurah.new_ulid() as eid, %11$s(jsonb_build_object(%12$s)) as f from cand),
    ins as (
      insert into ankurah.%4$I (id, %7$s, _head, _versions)
      select r.eid, %8$s, array[r.eid], (select coalesce(jsonb_object_agg(k, r.eid), '{}') from jsonb_object_keys(r.f) k) from rows r
      on conflict (%7$s) do nothing
      returning id),
    ev as (
      insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
      select r.eid, $1, r.eid, '{}', r.f, 'sql', session_user from rows r join ins on ins.id = r.eid
      returning 1)
    select (select count(*) from ev), (select count(*) from cand),
           (select jsonb_build_array(%9$s) from cand c2 order by %10$s limit 1)$q$,
    (select string_agg(format('t.%I as k%s', k, i), ', ' order by i) from unnest(c.key_columns) with ordinality u(k, i)),
    c.relid, cmp, c.side_table,
    (select string_agg('s.k' || i, ', ' order by i) from generate_series(1, cardinality(c.key_columns)) i),
    tkeys,
    kcols,
    (select string_agg('r.k' || i, ', ' order by i) from generate_series(1, cardinality(c.key_columns)) i),
    (select string_agg('c2.k' || i || '::text', ', ' order by i) from generate_series(1, cardinality(c.key_columns)) i),
    (select string_agg('c2.k' || i || ' desc', ', ' order by i) from generate_series(1, cardinality(c.key_columns)) i),
    strip, fields,
    -- The side table's rows before the keyset are not looked at (a merge
    -- anti join would otherwise walk them all on every batch).
    scmp)
  using coll, batch, after;
end $$;

-- adopt_missing counts the rows of an adopted table that have no side row
-- (no creation event) yet.
create or replace function ankurah.adopt_missing(coll text) returns bigint
language plpgsql stable as $$
declare
  c record;
  missing bigint;
begin
  select * into c from ankurah.collections where name = coll and adopted;
  if not found then
    raise exception using errcode = 'AK005', message = format('no adopted collection %s', coll);
  end if;
  execute format('select count(*) from %s t where not exists (select 1 from ankurah.%I s where (%s) = (%s))',
    c.relid, c.side_table,
    (select string_agg('s.k' || i, ', ' order by i) from generate_series(1, cardinality(c.key_columns)) i),
    (select string_agg(format('t.%I', k), ', ' order by i) from unnest(c.key_columns) with ordinality u(k, i)))
    into missing;
  return missing;
end $$;

-- adopt_finish is adoption's last step: once no row lacks a side row, the
-- collection is 'ready'. Returns how many rows still lack one (0: done).
create or replace function ankurah.adopt_finish(coll text) returns bigint
language plpgsql as $$
declare
  c record;
  missing bigint;
begin
  select * into c from ankurah.collections where name = coll and adopted;
  if not found then
    raise exception using errcode = 'AK005', message = format('no adopted collection %s', coll);
  end if;
  if c.state = 'ready' then
    return 0;
  end if;
  missing := ankurah.adopt_missing(coll);
  if missing = 0 then
    update ankurah.collections set state = 'ready' where name = coll;
    perform ankurah.record_change(coll, 'adopt', detail => format('table %s', c.relid));
    perform ankurah.refresh_refs();
  end if;
  return missing;
end $$;

-- adopt makes table rel a collection (the steps above, each in a
-- transaction of its own, waiting for the app's writers at most a moment
-- each time and trying again), e.g.
--   call ankurah.adopt('sales.orders');
--   call ankurah.adopt('"Legacy"', as_name => 'legacy', renames => '{"_flag": "flag"}');
-- Call it outside a transaction block. `ankurah adopt` does the same and
-- shows its progress.
create or replace procedure ankurah.adopt(rel regclass, as_name text default null, renames jsonb default '{}', batch int default 1000)
language plpgsql as $$
declare
  coll text;
  step int := 0;
  after jsonb;
  r record;
begin
  while step < 3 loop
    begin
      perform set_config('lock_timeout', '200ms', true);
      case step
        when 0 then coll := ankurah.adopt_start(rel, as_name, renames);
        when 1 then perform ankurah.adopt_triggers(coll);
        else perform ankurah.adopt_publish(coll);
      end case;
      step := step + 1;
    exception when lock_not_available then
      perform pg_sleep(0.05); -- the app's transactions hold the table: try again
    end;
    commit;
  end loop;
  loop
    select * into r from ankurah.adopt_backfill(coll, batch, after);
    commit;
    after := r.last;
    if after is null then
      exit when ankurah.adopt_finish(coll) = 0;
      commit;
    end if;
  end loop;
  commit;
end $$;

-- refresh_refs marks the foreign keys between adopted tables: a field whose
-- column is a one-column foreign key to an adopted table's one-column
-- primary key refers to that collection (its values stay the app's keys).
create or replace function ankurah.refresh_refs() returns void
language plpgsql as $$
declare
  f record;
begin
  for f in
    select fl.collection, fl.name, fl.refers,
      (select t.name from pg_constraint k
        join ankurah.collections t on t.relid = k.confrelid and t.adopted and cardinality(t.key_columns) = 1
        join pg_attribute ta on ta.attrelid = k.confrelid and ta.attnum = k.confkey[1] and ta.attname = t.key_columns[1]
        where k.conrelid = c.relid and k.contype = 'f' and cardinality(k.conkey) = 1 and k.conkey[1] = fl.attnum
        order by t.name limit 1) as target
    from ankurah.fields fl join ankurah.collections c on c.name = fl.collection and c.adopted
  loop
    if f.target is distinct from f.refers then
      update ankurah.fields set refers = f.target where collection = f.collection and name = f.name;
      update ankurah.collections set version = version + 1 where name = f.collection;
    end if;
  end loop;
end $$;

-- on_adopted records an adopted table's rows' changes (AFTER each row,
-- except in transactions marked as API writes). An INSERT creates an
-- entity (its id: the creation event's); an UPDATE records the fields that
-- changed (nothing when none did) — for a row the backfill has not reached
-- yet it first records the row's creation, as the backfill would have; a
-- DELETE records a tombstone (nothing for a row not backfilled yet, which
-- no one has seen as an entity). The side row follows.
create or replace function ankurah.on_adopted() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set extra_float_digits = 1 set intervalstyle = 'iso_8601' set bytea_output = 'hex'
as $$
declare
  coll text := TG_ARGV[0];
  c record;
  newj jsonb;
  oldj jsonb;
  ops jsonb;
  s record;
  gid text;
  got text;
  ev text;
begin
  select cl.relid, cl.side_table, cl.key_columns, cl.columns into c from ankurah.collections cl where cl.name = coll;
  if not found or c.relid <> TG_RELID then
    raise exception using errcode = 'AK003',
      message = format('trigger for collection %s on table %s, which is not its table', coll, TG_RELID::regclass),
      hint = 'the catalog may lag: run select ankurah.sync_catalog()';
  end if;
  if TG_OP <> 'DELETE' then
    -- A column added, dropped or renamed that the catalog has not followed
    -- yet (no event trigger): follow it now.
    if (select array_agg(k order by k) from jsonb_object_keys(to_jsonb(NEW)) k) is distinct from c.columns then
      perform ankurah.sync_catalog(coll);
      select cl.relid, cl.side_table, cl.key_columns, cl.columns into c from ankurah.collections cl where cl.name = coll;
    end if;
  end if;

  if TG_OP = 'INSERT' then
    newj := ankurah.nonnull(ankurah.adopted_fields(coll, to_jsonb(NEW)));
    ev := ankurah.new_ulid();
    insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
      values (ev, coll, ev, '{}', newj, 'sql', session_user);
    execute format('insert into ankurah.%I as s (id, %s, _head, _versions) values ($2, %s, array[$2], $3)
        on conflict (%s) do update set id = excluded.id, _head = excluded._head, _versions = excluded._versions',
      c.side_table, (select string_agg('k' || g, ', ') from generate_series(1, cardinality(c.key_columns)) g),
      ankurah.side_keys(c.key_columns, 1),
      (select string_agg('k' || g, ', ') from generate_series(1, cardinality(c.key_columns)) g))
      using NEW, ev, (select coalesce(jsonb_object_agg(k, ev), '{}') from jsonb_object_keys(newj) k);
    return null;
  end if;

  if TG_OP = 'DELETE' then
    execute format('delete from ankurah.%I where %s returning id, _head', c.side_table, ankurah.side_match(c.key_columns, 1))
      into s using OLD;
    if s.id is not null then
      insert into ankurah.events (id, collection, entity_id, parents, operations, tombstone, origin, author)
        values (ankurah.new_ulid((select max(h collate "C") from unnest(s._head) h)), coll, s.id, s._head, '{}', true, 'sql', session_user);
    end if;
    return null;
  end if;

  -- UPDATE: compared as text, so that jsonb 1 → 1.0 counts as a change.
  oldj := ankurah.adopted_fields(coll, to_jsonb(OLD));
  newj := ankurah.adopted_fields(coll, to_jsonb(NEW));
  select coalesce(jsonb_object_agg(n.key, n.value), '{}') into ops
    from jsonb_each(newj) n where n.value::text is distinct from (oldj -> n.key)::text;
  select ops || coalesce(jsonb_object_agg(o.key, 'null'::jsonb), '{}') into ops
    from jsonb_each(oldj) o where not newj ? o.key and o.value <> 'null'::jsonb;
  if ops = '{}' then
    return null; -- nothing changed: no event
  end if;
  execute format('select id, _head from ankurah.%I where %s for update', c.side_table, ankurah.side_match(c.key_columns, 1))
    into s using OLD;
  if s.id is null then
    -- Not backfilled yet: record its creation first, unless the backfill
    -- does so at this moment (then read what it wrote).
    gid := ankurah.new_ulid();
    oldj := ankurah.nonnull(oldj);
    execute format('insert into ankurah.%I (id, %s, _head, _versions) values ($2, %s, array[$2], $3) on conflict do nothing returning id',
      c.side_table, (select string_agg('k' || g, ', ') from generate_series(1, cardinality(c.key_columns)) g),
      ankurah.side_keys(c.key_columns, 1))
      into got using OLD, gid, (select coalesce(jsonb_object_agg(k, gid), '{}') from jsonb_object_keys(oldj) k);
    if got is not null then
      insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
        values (gid, coll, gid, '{}', oldj, 'sql', session_user);
    end if;
    execute format('select id, _head from ankurah.%I where %s for update', c.side_table, ankurah.side_match(c.key_columns, 1))
      into s using OLD;
  end if;
  ev := ankurah.new_ulid((select max(h collate "C") from unnest(s._head) h));
  insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
    values (ev, coll, s.id, s._head, ops, 'sql', session_user);
  execute format('update ankurah.%I set (%s) = row(%s), _head = array[$2], _versions = _versions || $3 where id = $4',
      c.side_table, (select string_agg('k' || g, ', ') from generate_series(1, cardinality(c.key_columns)) g),
      ankurah.side_keys(c.key_columns, 1))
    using NEW, ev, (select jsonb_object_agg(k, ev) from jsonb_object_keys(ops) k), s.id;
  return null;
end $$;

-- ---------------------------------------------------------------------------
-- Schema changes made with SQL (docs/architecture.md, "Schema changes").
--
-- sync_catalog brings the catalog in line with the tables, matching by
-- relation (a renamed table is the same table) and by column number (a
-- renamed column is the same column): a column gone is a field dropped, a
-- new name a field renamed, a new type a field retyped, a new column a
-- field added (when its type is one Ankurah has, and its name may be a
-- field's), a table gone a collection dropped (its history stays). Each
-- change is a row of ankurah.schema_changes, which the servers receive
-- through the replication stream. It runs from the event trigger
-- ankurah_ddl in the transaction of the DDL itself, where the installing
-- role may create event triggers (a superuser); otherwise, and always as a
-- safety net, servers run it when they start, periodically, when the
-- replication stream shows a table's columns changed, and when a query
-- meets a column or table that is not there; an adopted table's trigger
-- runs it when a row's columns differ from the catalog's. Returns the
-- number of changes.
create or replace function ankurah.sync_catalog(only_coll text default null) returns int
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  c record;
  r record;
  a record;
  f record;
  rel regclass;
  n int := 0;
  ft text;
  fname text;
  keys text[];
  old_keys smallint[];
  new_keys smallint[];
  prev text := coalesce(current_setting('ankurah.in_ddl', true), '');
  side_type text;
  app_type text;
begin
  perform pg_advisory_xact_lock(hashtext('ankurah.sync'));
  perform ankurah.in_ddl(true);
  for c in select * from ankurah.collections cl where only_coll is null or cl.name = only_coll order by cl.name loop
    rel := null;
    select x.oid::regclass as oid, x.relname::text as relname, ns.nspname::text as nspname into r
      from pg_class x join pg_namespace ns on ns.oid = x.relnamespace where x.oid = c.relid;
    if found then
      rel := r.oid;
    else
      -- Not there by relation: restored from a dump (a new relation, with
      -- Ankurah's triggers), or dropped.
      rel := to_regclass(format('%I.%I', c.table_schema, c.table_name));
      if rel is not null and exists (select 1 from pg_trigger t where t.tgrelid = rel and t.tgname in ('ankurah_write', 'ankurah_adopted')) then
        update ankurah.collections set relid = rel where name = c.name;
        select x.oid::regclass as oid, x.relname::text as relname, ns.nspname::text as nspname into r
          from pg_class x join pg_namespace ns on ns.oid = x.relnamespace where x.oid = rel;
      else
        if c.adopted and c.side_table is not null then
          execute format('drop table if exists ankurah.%I', c.side_table);
        end if;
        delete from ankurah.collections where name = c.name;
        delete from ankurah.ytext where collection = c.name;
        perform ankurah.record_change(c.name, 'drop_table', detail => format('table %I.%I', c.table_schema, c.table_name));
        n := n + 1;
        continue;
      end if;
    end if;

    if r.relname <> c.table_name or r.nspname <> c.table_schema then
      update ankurah.collections set table_name = r.relname, table_schema = r.nspname where name = c.name;
      perform ankurah.record_change(c.name, 'rename_table', old_name => format('%I.%I', c.table_schema, c.table_name),
        detail => format('%I.%I', r.nspname, r.relname));
      n := n + 1;
    end if;

    if c.adopted then
      select array_agg(fl.attnum order by u.i) into old_keys
        from unnest(c.key_columns) with ordinality u(k, i) join ankurah.fields fl on fl.collection = c.name and fl.column_name = u.k;
    end if;

    -- The fields, by column number.
    for f in select * from ankurah.fields fl where fl.collection = c.name order by fl.attnum loop
      select att.attname::text as attname, att.atttypid, att.atttypmod, att.attgenerated into a
        from pg_attribute att where att.attrelid = rel and att.attnum = f.attnum and not att.attisdropped and att.attnum > 0;
      if not found and f.attnum is null then
        -- A field of version 1 whose column was not found then: by name.
        select att.attname::text as attname, att.atttypid, att.atttypmod, att.attgenerated, att.attnum into a
          from pg_attribute att where att.attrelid = rel and att.attname = f.column_name and not att.attisdropped and att.attnum > 0;
        if found then
          update ankurah.fields set attnum = a.attnum where collection = c.name and name = f.name;
        end if;
      end if;
      if not found or (not c.adopted and left(a.attname, 1) = '_') then
        delete from ankurah.fields where collection = c.name and name = f.name;
        delete from ankurah.ytext where collection = c.name and field = f.name;
        perform ankurah.record_change(c.name, 'drop_field', field => f.name, old_type => f.type);
        n := n + 1;
        continue;
      end if;
      if a.attname <> f.column_name then
        fname := case when not c.adopted then a.attname when f.pinned then f.name else ankurah.adopted_field(a.attname) end;
        if left(fname, 1) = '_' or ankurah.is_system_column(fname) or (fname = 'id' and not f.pinned)
           or exists (select 1 from ankurah.fields o where o.collection = c.name and o.name = fname and o.attnum <> f.attnum) then
          delete from ankurah.fields where collection = c.name and name = f.name;
          delete from ankurah.ytext where collection = c.name and field = f.name;
          perform ankurah.record_change(c.name, 'drop_field', field => f.name, old_type => f.type,
            detail => format('column renamed to %I, which cannot name a field', a.attname));
          n := n + 1;
          continue;
        end if;
        update ankurah.fields set name = fname, column_name = a.attname where collection = c.name and name = f.name;
        if fname <> f.name and f.type = 'ytext' then
          update ankurah.ytext set field = fname where collection = c.name and field = f.name;
        end if;
        if fname <> f.name then
          perform ankurah.record_change(c.name, 'rename_field', field => fname, old_name => f.name);
          n := n + 1;
        end if;
        f.name := fname;
      end if;
      begin
        ft := ankurah.field_type_of(a.atttypid, a.atttypmod);
      exception when sqlstate 'AK002' then
        delete from ankurah.fields where collection = c.name and name = f.name;
        delete from ankurah.ytext where collection = c.name and field = f.name;
        perform ankurah.record_change(c.name, 'drop_field', field => f.name, old_type => f.type,
          detail => format('its column is now of type %s, which Ankurah cannot represent', format_type(a.atttypid, a.atttypmod)));
        n := n + 1;
        continue;
      end;
      if f.type in ('ref', 'ytext') and ft = 'text' then
        ft := f.type; -- both are text columns (collate "C")
      end if;
      if ft <> f.type then
        update ankurah.fields set type = ft where collection = c.name and name = f.name;
        delete from ankurah.ytext where collection = c.name and field = f.name;
        perform ankurah.record_change(c.name, 'retype_field', field => f.name, old_type => f.type, new_type => ft);
        n := n + 1;
      end if;
      if (a.attgenerated <> '') <> f.generated then
        update ankurah.fields set generated = a.attgenerated <> '' where collection = c.name and name = f.name;
        update ankurah.collections set version = version + 1 where name = c.name;
      end if;
    end loop;

    -- New columns.
    for a in select att.attname::text as attname, att.attnum, att.atttypid, att.atttypmod, att.attgenerated
             from pg_attribute att where att.attrelid = rel and att.attnum > 0 and not att.attisdropped
             and not exists (select 1 from ankurah.fields fl where fl.collection = c.name and fl.attnum = att.attnum)
             order by att.attnum loop
      fname := case when c.adopted then ankurah.adopted_field(a.attname) else a.attname end;
      continue when left(fname, 1) = '_' or fname = 'id' or ankurah.is_system_column(fname)
        or exists (select 1 from ankurah.fields o where o.collection = c.name and o.name = fname);
      begin
        ft := ankurah.field_type_of(a.atttypid, a.atttypmod);
      exception when sqlstate 'AK002' then
        continue; -- a column Ankurah cannot represent is not a field
      end;
      insert into ankurah.fields (collection, name, type, column_name, attnum, generated)
        values (c.name, fname, ft, a.attname, a.attnum, a.attgenerated <> '');
      perform ankurah.record_change(c.name, 'add_field', field => fname, new_type => ft);
      n := n + 1;
    end loop;

    if c.adopted then
      keys := ankurah.key_columns(rel);
      select array_agg(att.attnum order by u.i) into new_keys
        from unnest(keys) with ordinality u(k, i) join pg_attribute att on att.attrelid = rel and att.attname = u.k;
      if new_keys is distinct from old_keys then
        perform ankurah.record_change(c.name, 'key_changed', detail => format('the primary key of %s is now (%s), not (%s): adopt the table again', rel,
          array_to_string(keys, ', '), array_to_string(c.key_columns, ', ')));
        n := n + 1;
      elsif keys is distinct from c.key_columns then
        update ankurah.collections set key_columns = keys where name = c.name; -- key columns renamed
      end if;
      -- A key column retyped: its side table column follows.
      for a in select u.i, format_type(att.atttypid, att.atttypmod) as app_type,
                      (select format_type(s.atttypid, s.atttypmod) from pg_attribute s
                        where s.attrelid = format('ankurah.%I', c.side_table)::regclass and s.attname = 'k' || u.i) as side_type
               from unnest(keys) with ordinality u(k, i) join pg_attribute att on att.attrelid = rel and att.attname = u.k
               where new_keys is not distinct from old_keys loop
        if a.side_type is distinct from a.app_type then
          execute format('alter table ankurah.%I alter column %I type %s using %I::%s', c.side_table, 'k' || a.i, a.app_type, 'k' || a.i, a.app_type);
        end if;
      end loop;
      if ankurah.table_columns(rel) is distinct from c.columns then
        update ankurah.collections set columns = ankurah.table_columns(rel) where name = c.name;
      end if;
      -- Its trigger function: written again after a change; the generic
      -- one without the event trigger, a fast one with it.
      if (select version from ankurah.collections where name = c.name) <> c.version
         or ankurah.fast_triggers() = exists (select 1 from pg_trigger t where t.tgrelid = rel and t.tgname = 'ankurah_adopted'
                                                and t.tgfoid = 'ankurah.on_adopted'::regproc) then
        perform ankurah.adopted_function(c.name);
      end if;
    end if;
  end loop;
  if exists (select 1 from ankurah.collections where adopted) then
    perform ankurah.refresh_refs();
  end if;
  perform set_config('ankurah.in_ddl', prev, true);
  return n;
end $$;

-- on_ddl is the event trigger's function: after DDL that can change a
-- collection's table, the catalog follows in the same transaction.
create or replace function ankurah.on_ddl() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  if coalesce(current_setting('ankurah.in_ddl', true), '') = 'on' then
    return; -- Ankurah's own DDL keeps the catalog itself
  end if;
  if tg_tag = 'ALTER TABLE' then
    perform ankurah.sync_catalog(c.name) from ankurah.collections c
      where c.relid in (select d.objid from pg_event_trigger_ddl_commands() d);
  else
    perform ankurah.sync_catalog(null);
  end if;
end $$;

-- The event trigger needs a superuser to create it; without one the
-- servers' safety nets keep the catalog in line (see sync_catalog).
do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user)
     and not exists (select 1 from pg_event_trigger where evtname = 'ankurah_ddl') then
    create event trigger ankurah_ddl on ddl_command_end
      when tag in ('ALTER TABLE', 'DROP TABLE', 'ALTER SCHEMA', 'DROP SCHEMA', 'ALTER TYPE', 'DROP TYPE', 'DROP OWNED')
      execute function ankurah.on_ddl();
  end if;
end $$;

-- Role ankurah_writer: only its members (and superusers) may mark a
-- transaction as an API write (see check_writer). The installing role
-- creates it and joins it when it may; otherwise `ankurah check` says how.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'ankurah_writer') then
    begin
      create role ankurah_writer nologin;
    exception when duplicate_object or unique_violation or insufficient_privilege then
      null; -- created concurrently, or not ours to create
    end;
  end if;
  if exists (select 1 from pg_roles where rolname = 'ankurah_writer')
     and not pg_has_role(current_user, 'ankurah_writer', 'MEMBER') then
    begin
      execute format('grant ankurah_writer to %I', current_user);
    exception when others then
      null; -- `ankurah check` reports it
    end;
  end if;
end $$;

-- Collections of version 1: their triggers get the collection's name as
-- argument, and the check on API writes.
do $$
declare
  c record;
begin
  for c in select cl.name, cl.relid from ankurah.collections cl
           where not cl.adopted and cl.relid is not null
             and (not exists (select 1 from pg_trigger t where t.tgrelid = cl.relid and t.tgname = 'ankurah_api_writes')
                  or exists (select 1 from pg_trigger t where t.tgrelid = cl.relid and t.tgname = 'ankurah_write' and t.tgnargs = 0)) loop
    perform ankurah.collection_triggers(c.name, c.relid);
  end loop;
end $$;

-- ---------------------------------------------------------------------------
-- Fast triggers for adopted tables.
--
-- on_adopted serves any adopted table: it reads the catalog and builds its
-- SQL for every row, and follows a schema change the catalog has not seen.
-- Where the event trigger keeps the catalog in line in the DDL's own
-- transaction, each adopted table gets instead a trigger function written
-- for it (adopted_function): static SQL (planned once per session), the
-- fields compared and converted column by column, no catalog reads. It is
-- written again with every change of the table (sync_catalog), in the
-- transaction of the DDL. sync_catalog puts back on_adopted wherever the
-- event trigger is missing or disabled.

-- utc_ts is a timestamptz as events record it (see sql_row).
create or replace function ankurah.utc_ts(t timestamptz, coll text, field text) returns jsonb
language plpgsql stable as $$
begin
  if t is null then
    return null;
  end if;
  if not isfinite(t) or extract(year from t at time zone 'UTC') not between 1 and 9999 then
    raise exception using errcode = 'AK002',
      message = format('%s.%s: timestamp %s is outside the years 1–9999', coll, field, t);
  end if;
  return to_jsonb(to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
end $$;

-- fast_triggers reports whether adopted tables may have trigger functions
-- of their own: the event trigger is there and enabled.
create or replace function ankurah.fast_triggers() returns boolean
language sql stable as $$
  select exists (select 1 from pg_event_trigger where evtname = 'ankurah_ddl' and evtenabled <> 'D')
$$;

-- adopted_value is the expression, in a trigger function written for an
-- adopted table, of field f's value in row r (NEW or OLD) as events record
-- it.
create or replace function ankurah.adopted_value(coll text, f record, r text) returns text
language plpgsql stable as $$
declare
  col text := format('%s.%I', r, f.column_name);
begin
  if f.type like 'numeric%' and f.type not like '%[]' then
    return format('to_jsonb(%s::text)', col);
  elsif f.type like 'timestamptz%' and f.type not like '%[]' then
    return format('ankurah.utc_ts(%s, %L, %L)', col, coll, f.name);
  elsif f.type like 'timestamp%' or f.type like 'date%' or f.type like '%[]' then
    return format('(ankurah.sql_row(%L, jsonb_build_object(%L, to_jsonb(%s))) -> %L)', coll, f.name, col, f.name);
  end if;
  return format('to_jsonb(%s)', col);
end $$;

-- adopted_function writes the trigger function of adopted collection coll
-- (see above) and points the table's trigger at it — or, without the
-- event trigger, at on_adopted.
create or replace function ankurah.adopted_function(coll text) returns void
language plpgsql as $$
declare
  c record;
  f record;
  fname text;
  ins text := '';
  gen text := '';
  upd text := '';
  kcols text;
  knew text;
  kold text;
  kmatch text;
  kchanged text;
  strip text := 'jsonb_strip_nulls';
  native constant text[] := array['smallint', 'integer', 'bigint', 'boolean', 'text', 'uuid', 'date', 'bytea', 'bpchar'];
  body text;
begin
  select * into c from ankurah.collections where name = coll and adopted;
  if not found then
    return;
  end if;
  fname := 'w_' || c.relid::oid;
  if not ankurah.fast_triggers() then
    -- The generic function reads the catalog for every row: nothing to
    -- write, and the trigger is left alone when it calls it already (this
    -- may run from that very trigger, following a change it noticed).
    if not exists (select 1 from pg_trigger t where t.tgrelid = c.relid and t.tgname = 'ankurah_adopted'
                   and t.tgfoid = 'ankurah.on_adopted'::regproc) then
      execute format($f$create or replace trigger ankurah_adopted after insert or update or delete on %s for each row
        when (current_setting('ankurah.writer', true) is distinct from %L)
        execute function ankurah.on_adopted(%L)$f$, c.relid, 'api:' || coll, coll);
      execute format('drop function if exists ankurah.%I()', fname);
    end if;
    return;
  end if;
  for f in select fl.name, fl.type, fl.column_name from ankurah.fields fl
           where fl.collection = coll and not fl.generated order by fl.attnum loop
    ins := ins || case when ins = '' then '' else ', ' end || format('%L, %s', f.name, ankurah.adopted_value(coll, f, 'NEW'));
    gen := gen || case when gen = '' then '' else ', ' end || format('%L, %s', f.name, ankurah.adopted_value(coll, f, 'OLD'));
    upd := upd || format(E'\n  if %s then\n    ops := ops || jsonb_build_object(%L, %s);\n    changed := changed || %L::text;\n  end if;',
      case when split_part(split_part(f.type, '(', 1), '[', 1) = any(native) or f.type like 'varchar%' or f.type like 'char(%' or f.type like 'enum(%'
                or f.type like 'time%' and f.type not like 'timestamp%'
                or f.type like 'timestamp%'
           then format('NEW.%1$I is distinct from OLD.%1$I', f.column_name)
           else format('NEW.%1$I::text is distinct from OLD.%1$I::text', f.column_name) end,
      f.name, ankurah.adopted_value(coll, f, 'NEW'), f.name);
    if f.type in ('json', 'jsonb') or f.type like 'json%[]' then
      strip := 'ankurah.nonnull';
    end if;
  end loop;
  select string_agg('k' || i, ', ' order by i), string_agg(format('NEW.%I', k), ', ' order by i),
         string_agg(format('OLD.%I', k), ', ' order by i), string_agg(format('k%s = OLD.%I', i, k), ' and ' order by i),
         string_agg(format('NEW.%1$I is distinct from OLD.%1$I', k), ' or ' order by i)
    into kcols, knew, kold, kmatch, kchanged from unnest(c.key_columns) with ordinality u(k, i);
  body := format($body$
create or replace function ankurah.%1$I() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set extra_float_digits = 1 set intervalstyle = 'iso_8601' set bytea_output = 'hex'
as $fn$
-- Written by ankurah.adopted_function for collection %2$s (table %3$s); written again when the table changes.
declare
  ops jsonb := '{}';
  changed text[] := '{}';
  s record;
  ev text;
  gid text;
  got text;
  g jsonb;
begin
  if TG_OP = 'INSERT' then
    ev := ankurah.new_ulid();
    ops := %4$s(jsonb_build_object(%5$s));
    insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
      values (ev, %2$L, ev, '{}', ops, 'sql', session_user);
    insert into ankurah.%6$I as s (id, %7$s, _head, _versions)
      values (ev, %8$s, array[ev], (select coalesce(jsonb_object_agg(k, ev), '{}') from jsonb_object_keys(ops) k))
      on conflict (%7$s) do update set id = excluded.id, _head = excluded._head, _versions = excluded._versions;
    return null;
  end if;
  if TG_OP = 'DELETE' then
    delete from ankurah.%6$I where %9$s returning id, _head into s;
    if found then
      insert into ankurah.events (id, collection, entity_id, parents, operations, tombstone, origin, author)
        values (ankurah.new_ulid((select max(h collate "C") from unnest(s._head) h)), %2$L, s.id, s._head, '{}', true, 'sql', session_user);
    end if;
    return null;
  end if;
  %10$s
  if ops = '{}' then
    return null; -- nothing changed: no event
  end if;
  select id, _head into s from ankurah.%6$I where %9$s for update;
  if not found then
    -- Not backfilled yet: record its creation first, unless the backfill
    -- does so at this moment (then read what it wrote).
    gid := ankurah.new_ulid();
    g := %4$s(jsonb_build_object(%11$s));
    insert into ankurah.%6$I (id, %7$s, _head, _versions)
      values (gid, %12$s, array[gid], (select coalesce(jsonb_object_agg(k, gid), '{}') from jsonb_object_keys(g) k))
      on conflict do nothing returning id into got;
    if got is not null then
      insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
        values (gid, %2$L, gid, '{}', g, 'sql', session_user);
    end if;
    select id, _head into s from ankurah.%6$I where %9$s for update;
  end if;
  ev := ankurah.new_ulid(case when cardinality(s._head) = 1 then s._head[1] else (select max(h collate "C") from unnest(s._head) h) end);
  insert into ankurah.events (id, collection, entity_id, parents, operations, origin, author)
    values (ev, %2$L, s.id, s._head, ops, 'sql', session_user);
  if %13$s then
    update ankurah.%6$I set (%7$s) = row(%8$s), _head = array[ev],
        _versions = _versions || jsonb_object(changed, array_fill(ev, array[cardinality(changed)]))
      where id = s.id;
  else
    -- The key did not change: a HOT update (no index changes).
    update ankurah.%6$I set _head = array[ev],
        _versions = _versions || jsonb_object(changed, array_fill(ev, array[cardinality(changed)]))
      where id = s.id;
  end if;
  return null;
end $fn$
$body$, fname, coll, c.relid, strip, ins, c.side_table, kcols, knew, kmatch, upd, gen, kold, kchanged);
  execute body;
  execute format($f$create or replace trigger ankurah_adopted after insert or update or delete on %s for each row
    when (current_setting('ankurah.writer', true) is distinct from %L)
    execute function ankurah.%I()$f$, c.relid, 'api:' || coll, fname);
end $$;
