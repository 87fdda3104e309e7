// Package sql embeds the SQL that Ankurah installs into Postgres: the
// functions and triggers of schema ankurah (functions.sql, text.sql). Table definitions
// are goose migrations in package migrations, which applies this file after
// them.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package sql

import _ "embed"

// Functions is functions.sql, then text.sql (collaborative text: SQL
// writes of ytext fields as Yjs edits): idempotent CREATE OR REPLACE
// statements.
var Functions = functions + "\n" + text

//go:embed functions.sql
var functions string

//go:embed text.sql
var text string
