// Package migrations installs and upgrades Ankurah's schema in Postgres: the
// goose migrations embedded here, then the functions and triggers of package
// package sql. Apply is idempotent and safe when several processes run it at once.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	pgsql "github.com/ankurah/ankurah-go/sql"
)

// Files holds the goose migrations.
//
//go:embed *.sql
var Files embed.FS

// lockKey is the advisory lock that serialises concurrent migrators.
const lockKey = 0x616e6b757261 // "ankura"

// VersionTable records which goose migrations have run.
const VersionTable = "ankurah.goose_db_version"

// Apply brings the database at url up to date. It holds a session advisory
// lock for the duration, so a second migrator waits and then finds nothing
// left to do.
func Apply(ctx context.Context, url string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), "select pg_advisory_unlock($1)", int64(lockKey)) //nolint:errcheck

	if _, err := conn.Exec(ctx, "create schema if not exists ankurah"); err != nil {
		return fmt.Errorf("create schema ankurah: %w", err)
	}
	db := stdlib.OpenDB(*cfg.Copy())
	defer db.Close()
	if err := up(ctx, db, log); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, pgsql.Functions); err != nil {
		return fmt.Errorf("install functions: %w", err)
	}
	return nil
}

func up(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	store, err := database.NewStore(database.DialectPostgres, VersionTable)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider("", db, Files, goose.WithStore(store))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "source", r.Source.Path, "duration", r.Duration)
	}
	return nil
}
