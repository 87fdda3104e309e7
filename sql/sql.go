// Package sql embeds the SQL that Ankurah installs into Postgres: the
// functions and triggers of schema ankurah (functions.sql). Table definitions
// are goose migrations in package migrations, which applies this file after
// them.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package sql

import _ "embed"

// Functions is functions.sql: idempotent CREATE OR REPLACE statements.
//
//go:embed functions.sql
var Functions string
