package replication

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a Consumer. The zero value of every field but
// DatabaseURL means "the default"; WithDefaults fills them in.
type Config struct {
	// DatabaseURL is the Postgres connection string (URL or key=value). The
	// consumer opens its own connection with replication=database, so the
	// role needs the REPLICATION attribute (see Gather/Evaluate). pgxpool
	// parameters (pool_max_conns, …) are accepted and ignored, so the
	// server's pool URL can be passed as is.
	DatabaseURL string

	// SlotName is the permanent logical replication slot this consumer
	// owns. Default: "ankurah_<host>_<database>_<8 random hex digits>"
	// (DefaultSlotName), sanitised: a name of this consumer's own, so that
	// servers sharing a database never share a slot by accident. Set it to
	// resume a slot kept by an earlier consumer (KeepSlot). A slot in use by
	// another process is waited for up to SlotWait, then refused
	// (*SlotInUseError). Slot names are at most 63 lowercase letters,
	// digits and underscores.
	SlotName string

	// KeepSlot keeps the slot when Run ends because its context ended or
	// Close was called, so that a consumer started later with the same
	// SlotName resumes from it without creating a slot (which waits for
	// every running transaction). By default the slot is dropped then: a
	// consumer that stops cleanly leaves nothing that holds WAL. A slot is
	// never dropped when Run ends with an error (a restart must be able to
	// redeliver), nor one this consumer never streamed from. KeepSlot needs
	// an explicit SlotName: the default one differs every time.
	KeepSlot bool

	// SlotWait is how long Run keeps retrying while the slot is active for
	// another process (a predecessor's walsender can hold it for a moment
	// after its client went away) before it returns a *SlotInUseError.
	// Default DefaultSlotWait (10s).
	SlotWait time.Duration

	// SlotMaxInactive and SlotMaxRetained bound the slots that servers
	// leave behind: while it runs, the consumer sweeps the database's
	// Ankurah slots (SweepSlots) every SlotCheckInterval and drops every
	// one, other than its own, that has been inactive for longer than
	// SlotMaxInactive or is inactive and retains more than SlotMaxRetained
	// bytes of WAL. Defaults DefaultSlotMaxInactive (10 min) and
	// DefaultSlotMaxRetained (1 GiB); a negative value disables that rule,
	// both negative disable sweeping. Inactivity is counted from the first
	// sweep (of any server) that saw the slot inactive: PostgreSQL 15 keeps
	// no such time.
	SlotMaxInactive time.Duration
	SlotMaxRetained int64

	// SlotCheckInterval is how often the sweep runs. Default
	// DefaultSlotCheckInterval (1 min).
	SlotCheckInterval time.Duration

	// OnGap is called when the slot the consumer streams from lost
	// transactions it had not delivered: it was dropped while the consumer
	// ran and is created anew, or Postgres invalidated it
	// (max_slot_wal_keep_size) and it is dropped and created anew. It is
	// called before the first transaction from the new slot is handed to
	// the handler, never concurrently with it; whatever the handler built
	// from the stream is now missing changes (a server reads its live
	// queries again). A gap is also reported when the slot is created on
	// the first start while StartLSN is set. An error ends Run. Default:
	// the gap is logged.
	OnGap func(ctx context.Context, gap Gap) error

	// Publication streamed from. Default "ankurah", which the consumer
	// creates for ankurah.events when it is missing and to which
	// ankurah.create_collection adds every collection table. Any other
	// publication must exist already.
	Publication string

	// StandbyTimeout is how often a standby status update (the
	// acknowledged position, and proof of life) is sent. Default 1s. Keep it
	// well under the server's wal_sender_timeout (60s by default).
	StandbyTimeout time.Duration

	// BackoffMin and BackoffMax bound the delay before reconnecting after
	// the connection is lost: it doubles from BackoffMin up to BackoffMax,
	// with jitter, and starts over once a session has streamed for
	// BackoffMax. Defaults 100ms and 30s.
	BackoffMin time.Duration
	BackoffMax time.Duration

	// MaxPending is how many decoded transactions may wait for the handler
	// before the consumer stops reading from Postgres (which then buffers,
	// on disk, on the server). Default 64.
	MaxPending int

	// StartLSN, when set, skips every transaction that ended at or before
	// it: pass the EndLSN of the last transaction a handler durably applied
	// to avoid the redelivery Postgres 15 does after a restart. Positions
	// before the slot's confirmed_flush_lsn are ignored by Postgres.
	StartLSN LSN

	// Logger receives the consumer's logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultPublication    = "ankurah"
	DefaultStandbyTimeout = time.Second
	DefaultBackoffMin     = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultMaxPending     = 64
	DefaultSlotWait       = 10 * time.Second
	// DefaultSlotMaxInactive and DefaultSlotMaxRetained bound the slots
	// left behind by servers that went away without dropping them.
	DefaultSlotMaxInactive   = 10 * time.Minute
	DefaultSlotMaxRetained   = 1 << 30
	DefaultSlotCheckInterval = time.Minute
)

// nameRE is what Postgres accepts as a replication slot name, and what we
// accept as a publication name: it is spliced into replication commands,
// which take no parameters.
var (
	slotNameRE    = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	publicationRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	if c.SlotName == "" {
		c.SlotName = DefaultSlotName(c.DatabaseURL)
	}
	if c.Publication == "" {
		c.Publication = DefaultPublication
	}
	if c.StandbyTimeout == 0 {
		c.StandbyTimeout = DefaultStandbyTimeout
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(DefaultBackoffMax, c.BackoffMin)
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.SlotWait == 0 {
		c.SlotWait = DefaultSlotWait
	}
	if c.SlotMaxInactive == 0 {
		c.SlotMaxInactive = DefaultSlotMaxInactive
	}
	if c.SlotMaxRetained == 0 {
		c.SlotMaxRetained = DefaultSlotMaxRetained
	}
	if c.SlotCheckInterval == 0 {
		c.SlotCheckInterval = DefaultSlotCheckInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports what is wrong with the configuration (after defaults are
// applied), every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.KeepSlot && c.SlotName == "" {
		errs = append(errs, errors.New("KeepSlot needs an explicit SlotName: the default name differs on every start, so a kept slot would never be resumed"))
	}
	c = c.WithDefaults()
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DatabaseURL is required"))
	} else if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("DatabaseURL: %w", err))
	}
	if !slotNameRE.MatchString(c.SlotName) {
		errs = append(errs, fmt.Errorf("SlotName %q: want 1 to 63 lowercase letters, digits and _", c.SlotName))
	}
	if !publicationRE.MatchString(c.Publication) {
		errs = append(errs, fmt.Errorf("invalid Publication %q: want a lowercase name of letters, digits and _ (at most 63, not starting with a digit)", c.Publication))
	}
	if c.StandbyTimeout < 0 {
		errs = append(errs, fmt.Errorf("StandbyTimeout %v: must be positive", c.StandbyTimeout))
	}
	if c.BackoffMin < 0 {
		errs = append(errs, fmt.Errorf("BackoffMin %v: must be positive", c.BackoffMin))
	}
	if c.BackoffMax < c.BackoffMin {
		errs = append(errs, fmt.Errorf("BackoffMax %v: must be at least BackoffMin (%v)", c.BackoffMax, c.BackoffMin))
	}
	if c.MaxPending < 0 {
		errs = append(errs, fmt.Errorf("MaxPending %d: must be positive", c.MaxPending))
	}
	if c.SlotWait < 0 {
		errs = append(errs, fmt.Errorf("SlotWait %v: must be positive", c.SlotWait))
	}
	if c.SlotCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("SlotCheckInterval %v: must be positive", c.SlotCheckInterval))
	}
	if len(errs) > 0 {
		return fmt.Errorf("replication config: %w", errors.Join(errs...))
	}
	return nil
}

// DefaultSlotName returns a new slot name for a consumer of the database
// named in databaseURL: "ankurah_<host>_<database>_<instance>", lowercased,
// other characters turned into _, where <instance> is 8 random hexadecimal
// digits, so that every call (every server instance) gets a slot of its
// own; the host and database are shortened when the name would exceed
// Postgres's 63 characters. Slots are cluster-wide, so the database is part
// of the name.
func DefaultSlotName(databaseURL string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return SlotNamePrefix(databaseURL) + "_" + hex.EncodeToString(b[:])
}

// SlotNamePrefix is the part of DefaultSlotName that does not change from
// one instance to the next: "ankurah_<host>_<database>", sanitised, at most
// 54 characters (longer names end with a hash of the full one).
func SlotNamePrefix(databaseURL string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "local"
	}
	db := ""
	if pc, err := pgxpool.ParseConfig(databaseURL); err == nil {
		db = pc.ConnConfig.Database
	}
	name := "ankurah_" + sanitize(host)
	if db != "" {
		name += "_" + sanitize(db)
	}
	if len(name) > 54 {
		sum := sha256.Sum256([]byte(name))
		name = name[:45] + "_" + hex.EncodeToString(sum[:4])
	}
	return name
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, s)
}
