-- Existing tables as collections (adoption), schema changes made with SQL,
-- and the catalog they need (docs/architecture.md, "Adopted tables" and
-- "Schema changes").
--
-- collections: where each collection's table is (followed through renames
-- by its relation, not its name), whether it is an app's own table
-- adopted in place (its entity ids, heads and versions then live in a side
-- table in schema ankurah, keyed by the table's primary key), and a
-- version that every change to its fields increments, so that readers
-- with a cached catalog can tell it is stale.
--
-- fields: each field's column (a field is named after its column, except
-- that an adopted table's column id is field sql_id, and `ankurah adopt
-- --rename` may name it otherwise: pinned), the column's attnum (the same
-- column keeps it through a rename), whether it is generated, and for a
-- foreign key between adopted tables the collection it refers to.
--
-- schema_changes: one row per change of a collection's schema, in order
-- (ids are ULIDs, comparable with event ids). It is in the publication, so
-- servers learn every change through the replication stream in commit
-- order; reads of history use its renames to show old events under the
-- fields' current names.

-- +goose Up
alter table ankurah.collections
  add column table_name  text,
  add column relid       regclass,
  add column adopted     boolean not null default false,
  add column state       text not null default 'ready' check (state in ('adopting', 'ready')),
  add column side_table  text,
  add column key_columns text[],
  add column columns     text[],
  add column version     bigint not null default 1;
update ankurah.collections set table_name = name, relid = to_regclass(format('%I.%I', table_schema, name));
alter table ankurah.collections alter column table_name set not null;

alter table ankurah.fields
  add column column_name text,
  add column attnum      smallint,
  add column generated   boolean not null default false,
  add column pinned      boolean not null default false,
  add column refers      text;
update ankurah.fields f set column_name = f.name, attnum = a.attnum, generated = a.attgenerated <> ''
  from ankurah.collections c, pg_attribute a
  where c.name = f.collection and a.attrelid = c.relid and a.attname = f.name and a.attnum > 0 and not a.attisdropped;
update ankurah.fields set column_name = name where column_name is null;
alter table ankurah.fields alter column column_name set not null;

create table ankurah.schema_changes (
  id         text collate "C" primary key,
  collection text not null,
  kind       text not null,
  field      text,
  old_name   text,
  old_type   text,
  new_type   text,
  detail     text,
  created_at timestamptz not null default now()
);
create index schema_changes_collection on ankurah.schema_changes (collection, id);

-- +goose Down
drop table ankurah.schema_changes;
alter table ankurah.fields drop column column_name, drop column attnum, drop column generated,
  drop column pinned, drop column refers;
alter table ankurah.collections drop column table_name, drop column relid, drop column adopted,
  drop column state, drop column side_table, drop column key_columns, drop column columns, drop column version;
