package replication

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{DatabaseURL: "postgres://u@h:5432/My-App?pool_max_conns=4"}.WithDefaults()
	if c.Publication != "ankurah" || c.StandbyTimeout != time.Second || c.BackoffMin != 100*time.Millisecond ||
		c.BackoffMax != 30*time.Second || c.MaxPending != 64 || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
	// A name of its own for every server: the stable prefix, then 8 random
	// hex digits.
	prefix := SlotNamePrefix(c.DatabaseURL)
	if !slotNameRE.MatchString(c.SlotName) || !strings.HasPrefix(prefix, "ankurah_") || !strings.HasSuffix(prefix, "_my_app") ||
		!regexp.MustCompile(`^`+prefix+`_[0-9a-f]{8}$`).MatchString(c.SlotName) {
		t.Fatalf("default slot name %q (prefix %q)", c.SlotName, prefix)
	}
	if again := (Config{DatabaseURL: c.DatabaseURL}).WithDefaults().SlotName; again == c.SlotName {
		t.Fatalf("two servers would share slot %q", c.SlotName)
	}
	if again := SlotNamePrefix(c.DatabaseURL); again != prefix {
		t.Fatalf("slot name prefix not stable: %q then %q", prefix, again)
	}
	long := DefaultSlotName("postgres://h/" + strings.Repeat("x", 80))
	if len(long) != 63 || !slotNameRE.MatchString(long) || SlotNamePrefix("postgres://h/"+strings.Repeat("x", 80)) == SlotNamePrefix("postgres://h/"+strings.Repeat("x", 81)) {
		t.Fatalf("long default slot name %q", long)
	}
	if c.SlotWait != DefaultSlotWait || c.SlotMaxInactive != DefaultSlotMaxInactive || c.SlotMaxRetained != DefaultSlotMaxRetained || c.SlotCheckInterval != DefaultSlotCheckInterval {
		t.Fatalf("slot defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	set := Config{DatabaseURL: "postgres://h/db", SlotName: "mine", BackoffMin: time.Minute, Logger: slog.Default()}.WithDefaults()
	if set.SlotName != "mine" || set.BackoffMax != time.Minute {
		t.Fatalf("explicit values: %+v", set)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c    Config
		want string
	}{
		{Config{}, "DatabaseURL is required"},
		{Config{DatabaseURL: "postgres://h:notaport/db"}, "DatabaseURL"},
		{Config{DatabaseURL: "postgres://h/db", SlotName: "Bad-Name"}, `SlotName "Bad-Name"`},
		{Config{DatabaseURL: "postgres://h/db", SlotName: strings.Repeat("a", 64)}, "SlotName"},
		{Config{DatabaseURL: "postgres://h/db", Publication: "pub'; drop"}, "Publication"},
		{Config{DatabaseURL: "postgres://h/db", StandbyTimeout: -1}, "StandbyTimeout"},
		{Config{DatabaseURL: "postgres://h/db", BackoffMin: -1}, "BackoffMin"},
		{Config{DatabaseURL: "postgres://h/db", BackoffMin: time.Second, BackoffMax: time.Millisecond}, "BackoffMax"},
		{Config{DatabaseURL: "postgres://h/db", MaxPending: -3}, "MaxPending"},
		{Config{DatabaseURL: "postgres://h/db", KeepSlot: true}, "KeepSlot needs an explicit SlotName"},
		{Config{DatabaseURL: "postgres://h/db", SlotWait: -1}, "SlotWait"},
		{Config{DatabaseURL: "postgres://h/db", SlotCheckInterval: -1}, "SlotCheckInterval"},
	}
	for _, c := range cases {
		err := c.c.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error about %s", c.c, err, c.want)
		}
	}
	// Every problem at once.
	err := Config{SlotName: "X", MaxPending: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "DatabaseURL") || !strings.Contains(err.Error(), "SlotName") || !strings.Contains(err.Error(), "MaxPending") {
		t.Errorf("several problems: %v", err)
	}
	if _, err := New(Config{DatabaseURL: "postgres://h/db"}, nil); err == nil {
		t.Error("New accepted a nil handler")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	minD, maxD := 100*time.Millisecond, 5*time.Second
	for n := range 70 {
		want := maxD
		if n < 6 {
			want = minD << n
		}
		for range 50 {
			if d := backoff(minD, maxD, n); d < want/2 || d > want {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
