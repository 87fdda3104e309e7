package replication

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Errors of Run that are not Postgres's.
var (
	ErrRunning = errors.New("replication: consumer is already running")
	ErrClosed  = errors.New("replication: consumer is closed")
)

// HandlerError is returned by Run when the handler failed: the transaction
// and every later one are not acknowledged, and a restart delivers them
// again.
type HandlerError struct {
	XID    uint32
	EndLSN LSN
	Err    error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("replication: handler failed on transaction %d (end %s): %v", e.XID, e.EndLSN, e.Err)
}

func (e *HandlerError) Unwrap() error { return e.Err }

// SlotInUseError is returned by Run when the slot stayed active for another
// process for longer than Config.SlotWait, and by CheckSlotFree: another
// server (or any replication client) streams from a slot of that name.
type SlotInUseError struct {
	Slot string
	PID  int // the walsender holding it (0 when not known)
}

func (e *SlotInUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("replication: slot %q is in use by another process", e.Slot)
	}
	return fmt.Sprintf("replication: slot %q is in use by another process (walsender pid %d)", e.Slot, e.PID)
}

// IsSlotInUse reports whether err says that the slot is held by another
// process.
func IsSlotInUse(err error) bool {
	var e *SlotInUseError
	return errors.As(err, &e)
}

// slotBusy recognises the error START_REPLICATION gives for a slot another
// walsender holds (55006: replication slot "x" is active for PID n) and
// returns that PID.
func slotBusy(err error) (pid int, ok bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55006" {
		return 0, false
	}
	if i := strings.LastIndex(pgErr.Message, "PID "); i >= 0 {
		pid, _ = strconv.Atoi(strings.TrimSpace(pgErr.Message[i+4:]))
	}
	return pid, true
}

// permanentError marks errors that reconnecting cannot fix: Run returns them
// instead of retrying forever.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// isPermanent reports whether err needs an operator rather than a retry:
// our own configuration checks, failed authentication or privileges, a
// missing database, and servers that cannot do logical decoding. Everything
// else (network, restarts, a slot still held by a dying predecessor) is
// retried with backoff.
func isPermanent(err error) bool {
	var pe permanentError
	if errors.As(err, &pe) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch {
	case strings.HasPrefix(pgErr.Code, "28"): // invalid authorization
		return true
	case pgErr.Code == "42501": // insufficient privilege
		return true
	case pgErr.Code == "3D000": // database does not exist
		return true
	case pgErr.Code == "55000" && strings.Contains(pgErr.Message, "wal_level"):
		return true // logical decoding requires wal_level >= logical
	}
	return false
}
