-- The core of Ankurah's schema: the catalog of collections and fields, and
-- the append-only events table. Functions and triggers live in sql/ and are
-- (re)installed by every `ankurah migrate` after these migrations run.

-- +goose Up
create table ankurah.collections (
  name         text primary key,
  table_schema text not null default 'public',
  created_at   timestamptz not null default now()
);

create table ankurah.fields (
  collection text not null references ankurah.collections (name) on delete cascade,
  name       text not null,
  type       text not null,
  created_at timestamptz not null default now(),
  primary key (collection, name)
);

-- One row per event: the audit trail and the unit of sync. Append-only.
-- origin is 'api' for writes through Ankurah and 'sql' for plain SQL writes
-- recorded by the collection tables' triggers.
create table ankurah.events (
  id         text collate "C" primary key check (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
  collection text not null,
  entity_id  text collate "C" not null,
  parents    text[] collate "C" not null default '{}',
  operations jsonb not null default '{}',
  tombstone  boolean not null default false,
  origin     text not null default 'api',
  author     text,
  created_at timestamptz not null default now()
);
create index events_entity on ankurah.events (entity_id, id);
create index events_tombstone on ankurah.events (entity_id) where tombstone;

-- +goose Down
drop table ankurah.events;
drop table ankurah.fields;
drop table ankurah.collections;
