package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/storage"
)

// Options follow the project's one convention: zero means the default,
// WithDefaults fills a copy, Validate reports every problem at once.
func TestOptionsDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	var zero client.Options
	d := zero.WithDefaults()
	if d.MinBackoff != client.DefaultMinBackoff || d.MaxBackoff != client.DefaultMaxBackoff || d.DialTimeout != client.DefaultDialTimeout || d.Logger == nil {
		t.Fatalf("defaults: %+v", d)
	}
	if zero.Logger != nil || zero.MinBackoff != 0 {
		t.Fatal("WithDefaults changed the caller's value")
	}
	if d := (client.Options{MinBackoff: time.Minute}).WithDefaults(); d.MaxBackoff != time.Minute {
		t.Fatalf("an unset MaxBackoff below MinBackoff: %v", d.MaxBackoff)
	}
	for _, tc := range []struct {
		opts client.Options
		want []string // every problem, in one error
	}{
		{client.Options{}, nil},
		{client.Options{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}, nil},
		{client.Options{MinBackoff: -1}, []string{"MinBackoff"}},
		{client.Options{MinBackoff: time.Second, MaxBackoff: time.Millisecond, DialTimeout: -time.Second}, []string{"MaxBackoff", "DialTimeout"}},
	} {
		err := tc.opts.Validate()
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%+v: %v", tc.opts, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %v does not name %s", tc.opts, err, w)
			}
		}
	}
	if _, err := client.Open("", client.Options{MinBackoff: -1}); err == nil {
		t.Error("Open accepted invalid options")
	}
	if _, err := client.Dial(context.Background(), "ws://127.0.0.1:1/ws", client.Options{DialTimeout: -1}); err == nil || !strings.Contains(err.Error(), "DialTimeout") {
		t.Errorf("Dial with invalid options: %v", err)
	}
}

// The error predicates see through wrapping, as callers get errors wrapped.
func TestErrorPredicates(t *testing.T) {
	t.Parallel()
	rejected := fmt.Errorf("commit: %w", &client.RejectedError{Err: protocol.Errorf(storage.CodeMissingParents, "unknown parent")})
	notConfirmed := fmt.Errorf("commit: %w", &client.NotConfirmedError{Err: context.DeadlineExceeded})
	for _, tc := range []struct {
		err                    error
		rejected, notConfirmed bool
		code                   string
	}{
		{rejected, true, false, storage.CodeMissingParents},
		{notConfirmed, false, true, ""},
		{fmt.Errorf("get: %w", storage.Errorf(storage.CodeNotFound, "no such entity")), false, false, storage.CodeNotFound},
		{errors.New("plain"), false, false, ""},
		{nil, false, false, ""},
	} {
		if got := client.IsRejected(tc.err); got != tc.rejected {
			t.Errorf("IsRejected(%v) = %v", tc.err, got)
		}
		if got := client.IsNotConfirmed(tc.err); got != tc.notConfirmed {
			t.Errorf("IsNotConfirmed(%v) = %v", tc.err, got)
		}
		if got := client.Code(tc.err); got != tc.code {
			t.Errorf("Code(%v) = %q, want %q", tc.err, got, tc.code)
		}
		if client.IsDisconnected(tc.err) {
			t.Errorf("IsDisconnected(%v)", tc.err)
		}
	}
}
