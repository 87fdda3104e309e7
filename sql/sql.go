// Package sql embeds the SQL that Ankurah installs into Postgres: the
// functions and triggers of schema ankurah (functions.sql). Table definitions
// are goose migrations in package migrations, which applies this file after
// them.
package sql

import _ "embed"

// Functions is functions.sql: idempotent CREATE OR REPLACE statements.
//
//go:embed functions.sql
var Functions string
