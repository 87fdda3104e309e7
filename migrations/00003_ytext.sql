-- Collaborative text (ytext fields, docs/text.md): each field's Yjs
-- document, beside the text column that holds its text.
--
-- state is the document as one Yjs update (format v1), written by Go on
-- every API write (deleted content collected). A SQL write of the text
-- column cannot run Yjs: its trigger (ankurah.ytext_write) appends the
-- update it makes to updates, which the next write through Go folds into
-- state. To make that update the trigger needs to name the units around
-- the edit: runs is the visible text as (client, clock, length) triples in
-- document order, and SQL edits are made as client sql_client, whose next
-- clock is sql_clock. Not in the publication: changes reach clients as the
-- events' Yjs updates.

-- +goose Up
create table ankurah.ytext (
  collection text collate "C" not null,
  entity_id  text collate "C" not null,
  field      text collate "C" not null,
  state      bytea not null,
  updates    bytea[] not null default '{}',
  runs       bigint[] not null default '{}',
  sql_client bigint not null,
  sql_clock  bigint not null default 0,
  primary key (collection, entity_id, field)
);
-- Written on every keystroke that reaches the database: stored out of line
-- without compression, which cost more than the rest of the write (pglz
-- tried on a long-edited document's runs took ~25 ms a write).
alter table ankurah.ytext alter column runs set storage external, alter column state set storage external;

-- +goose Down
drop table ankurah.ytext;
