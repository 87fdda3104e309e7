package sqlite

import (
	"errors"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ankurah/ankurah-go/storage"
)

// sqlErr turns a database error into a coded storage error. Coded errors
// pass through unchanged.
func sqlErr(err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	code := storage.CodeInternal
	var le *sqlite.Error
	if errors.As(err, &le) {
		switch le.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			// An event id already stored for another entity, or a unique
			// index the table's owner added: as Postgres's unique_violation.
			code = storage.CodeConflict
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL,
			sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			// Something the table's owner added refused the row.
			code = storage.CodeConstraint
		}
		switch le.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			// Another process held the write lock past BusyTimeout.
			code = storage.CodeConflict
		}
	}
	return &storage.Error{Code: code, Message: "sqlite: " + err.Error(), Err: err}
}
