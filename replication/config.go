package replication

import (
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
	// owns. Default: "ankurah_<host>_<database>", sanitised — stable across
	// restarts of one server and distinct for servers on different hosts.
	// Set it explicitly when several servers share a host and a database.
	// Slot names are at most 63 lowercase letters, digits and underscores.
	SlotName string

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
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports what is wrong with the configuration (after defaults are
// applied), every problem at once.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
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
	if len(errs) > 0 {
		return fmt.Errorf("replication config: %w", errors.Join(errs...))
	}
	return nil
}

// DefaultSlotName derives the default slot name from the host name and the
// database named in databaseURL: "ankurah_<host>_<database>", lowercased,
// with other characters turned into _, and shortened with a hash suffix when
// longer than Postgres's 63 characters. Slots are cluster-wide, so the
// database is part of the name.
func DefaultSlotName(databaseURL string) string {
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
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(name))
		name = name[:54] + "_" + hex.EncodeToString(sum[:4])
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
