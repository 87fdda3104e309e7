package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/server"
)

// Config follows the project's one convention: zero means the default,
// WithDefaults fills a copy, Validate (and so New) reports every problem
// at once.
func TestConfigDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	var zero server.Config
	d := zero.WithDefaults()
	if d.Listen != server.DefaultListen || d.MaxFrameBytes != server.DefaultMaxFrameBytes || d.MaxSubscriptions != server.DefaultMaxSubscriptions ||
		d.MaxCommitEvents != server.DefaultMaxCommitEvents || d.QueueFrames != server.DefaultQueueFrames || d.WriteTimeout != server.DefaultWriteTimeout ||
		d.HandshakeTimeout != server.DefaultHandshakeTimeout || d.PingInterval != server.DefaultPingInterval || d.Logger == nil ||
		d.MaxLag != server.DefaultMaxLag || d.CloseTimeout != server.DefaultCloseTimeout {
		t.Fatalf("defaults: %+v", d)
	}
	if zero.Logger != nil || zero.Listen != "" {
		t.Fatal("WithDefaults changed the caller's value")
	}
	for _, tc := range []struct {
		cfg  server.Config
		want []string // every problem, in one error
	}{
		{server.Config{}, nil},
		{server.Config{Listen: "nope", MaxFrameBytes: 10, QueueFrames: -1, WriteTimeout: -time.Second, MaxLag: -time.Second, CloseTimeout: -1},
			[]string{"listen address", "max frame bytes", "queue frames", "write timeout", "max lag", "close timeout"}},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%+v: %v", tc.cfg, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v does not say %q", err, w)
			}
		}
		if _, nerr := server.New(tc.cfg, nil); (nerr == nil) != (err == nil) {
			t.Errorf("New: %v, Validate: %v", nerr, err)
		}
	}
}
