// Package pgdb creates and drops scratch Postgres databases: the one place
// that knows how, for the tests' throwaway databases (internal/pgtest) and
// the load tool's (internal/load, `ankurah bench`). It does not import
// package testing, so that the binary does not carry it.
package pgdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// RandomName returns prefix followed by 12 random hexadecimal digits: a
// database (or slot) name no other run picks.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// WithDatabase returns the postgres:// URL base with its database replaced
// by name.
func WithDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("the database URL must be a postgres:// URL (got %q)", base)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Create creates database name, as a copy of template when it is not empty.
func Create(ctx context.Context, admin *pgx.Conn, name, template string) error {
	stmt := "create database " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		stmt += " template " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := admin.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Drop drops the replication slots of database name (a slot keeps its
// database alive) and then, unless keep, the database. A walsender can
// outlive its client by a moment, keeping its slot active: Drop waits for
// the slots to be released until ctx ends, polling the catalog; a slot
// still active then is reported (it means a consumer was left running).
func Drop(ctx context.Context, admin *pgx.Conn, name string, keep bool) error {
	for {
		if _, err := admin.Exec(ctx, `select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active`, name); err != nil {
			return fmt.Errorf("drop the replication slots of %s: %w", name, err)
		}
		var left int
		if err := admin.QueryRow(ctx, `select count(*) from pg_replication_slots where database = $1`, name).Scan(&left); err != nil {
			return fmt.Errorf("drop the replication slots of %s: %w", name, err)
		}
		if left == 0 {
			break
		}
		timer := time.NewTimer(20 * time.Millisecond) // polling the catalog, bounded by ctx
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("drop %s: %d replication slot(s) still active", name, left)
		case <-timer.C:
		}
	}
	if keep {
		return nil
	}
	if _, err := admin.Exec(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
