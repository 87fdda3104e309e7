package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ankurah/ankurah-go/value"
)

// The file's header marks it as an Ankurah store (PRAGMA application_id,
// "Ankr") of a given layout version (PRAGMA user_version), so that Open
// refuses other SQLite files and files from a newer layout.
const (
	applicationID = 0x416e6b72
	layoutVersion = 2
)

// upgrades take a file from the layout version that indexes them to the
// next: upgrades[1] makes a version 1 file a version 2 file.
var upgrades = map[int64][]string{
	// 2: events record their author.
	1: {`alter table _ankurah_events add column author text`},
}

// systemTables is the layout's fixed part. Collection tables are created by
// createTableSQL. Every table is WITHOUT ROWID: rows are stored in id order
// (ULIDs grow with time, so inserts append), a lookup by id is one b-tree
// search, and a scan in id order needs no sort.
var systemTables = []string{
	`create table _ankurah_collections (
		name text primary key,
		table_name text not null unique
	) without rowid`,
	`create table _ankurah_fields (
		collection text not null,
		name text not null,
		type text not null,
		primary key (collection, name)
	) without rowid`,
	`create table _ankurah_events (
		id text primary key,
		collection text not null,
		entity_id text not null,
		parents text not null,
		operations text not null,
		tombstone integer not null,
		author text
	) without rowid`,
	`create index _ankurah_events_entity on _ankurah_events (entity_id, id)`,
	fmt.Sprintf(`pragma application_id = %d`, applicationID),
	fmt.Sprintf(`pragma user_version = %d`, layoutVersion),
}

// bootstrap creates the system tables in a new file and checks an existing
// one's header.
func bootstrap(ctx context.Context, conn *sql.Conn) (err error) {
	if _, err := conn.ExecContext(ctx, "begin immediate"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.Background(), "rollback") //nolint:errcheck // the error that matters is err
		}
	}()
	var appID, version, objects int64
	if err := conn.QueryRowContext(ctx, "pragma application_id").Scan(&appID); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, "pragma user_version").Scan(&version); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, "select count(*) from sqlite_schema").Scan(&objects); err != nil {
		return err
	}
	for appID == applicationID && version < layoutVersion && upgrades[version] != nil {
		for _, ddl := range upgrades[version] {
			if _, err := conn.ExecContext(ctx, ddl); err != nil {
				return fmt.Errorf("upgrading the layout from version %d: %w", version, err)
			}
		}
		version++
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("pragma user_version = %d", version)); err != nil {
			return err
		}
	}
	switch {
	case appID == applicationID && version == layoutVersion:
	case appID == applicationID:
		return fmt.Errorf("the file has layout version %d; this build reads version %d", version, layoutVersion)
	case appID == 0 && objects == 0:
		for _, ddl := range systemTables {
			if _, err := conn.ExecContext(ctx, ddl); err != nil {
				return fmt.Errorf("creating the layout: %w", err)
			}
		}
	default:
		return fmt.Errorf("not an Ankurah store (application_id %#x, %d schema objects)", appID, objects)
	}
	if _, err := conn.ExecContext(ctx, textTable); err != nil {
		return fmt.Errorf("creating the layout: %w", err)
	}
	_, err = conn.ExecContext(ctx, "commit")
	return err
}

// tableName is the SQL table of a collection: its own name, except that
// SQLite reserves names starting with "sqlite_". Those get a leading "_",
// which no collection name has and which no system table ("_ankurah_…")
// starts with.
func tableName(collection string) string {
	if strings.HasPrefix(collection, "sqlite_") {
		return "_" + collection
	}
	return collection
}

// quote returns name as a quoted SQL identifier. Names are validated to
// [a-z0-9_], but the catalog of a file may have been edited by hand.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// columnType is the declared type of a field's column: one whose type
// affinity (https://sqlite.org/datatype3.html) never converts what codec.go
// stores in it. The catalog keeps the field's real type.
func columnType(t value.Type) string {
	switch t.Kind() {
	case value.Int, value.Bool:
		return "integer"
	case value.Float, value.Real:
		return "real"
	case value.Bytes:
		return "blob"
	}
	return "text" // text-like, numeric, times (see codec.go), json, arrays
}

func createTableSQL(ident string) string {
	return "create table " + ident + ` (
		id text primary key,
		_head text not null,
		_versions text not null
	) without rowid`
}
