package auth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPolicyPoll is how often a policy file is checked for changes.
const DefaultPolicyPoll = 2 * time.Second

// PolicyFileSource holds the policy read from a file and reloads it when
// the file changes. A new version replaces the old one atomically, between
// two requests; a file that does not parse keeps the previous policy in
// force, and the problem is logged. Editors that write a new file and
// rename it over the old one are handled (the path is read again).
type PolicyFileSource struct {
	path    string
	poll    time.Duration
	log     *slog.Logger
	current atomic.Pointer[Policy]
	version atomic.Uint64

	mu      sync.Mutex    // guards last and changed; held for a whole reload
	last    []byte        // the content in force
	changed chan struct{} // closed and replaced on every reload
}

// LoadPolicyFile reads and checks the policy at path. poll is how often
// Watch looks for changes (0: DefaultPolicyPoll).
func LoadPolicyFile(path string, poll time.Duration, log *slog.Logger) (*PolicyFileSource, error) {
	if poll <= 0 {
		poll = DefaultPolicyPoll
	}
	if log == nil {
		log = slog.Default()
	}
	s := &PolicyFileSource{path: path, poll: poll, log: log, changed: make(chan struct{})}
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	s.current.Store(p)
	s.version.Store(1)
	s.last = data
	return s, nil
}

// Policy returns the policy in force.
func (s *PolicyFileSource) Policy() *Policy { return s.current.Load() }

// Version counts the policies that have been in force: it changes exactly
// when Policy does, so sessions can tell that their grants are stale.
func (s *PolicyFileSource) Version() uint64 { return s.version.Load() }

// Changed returns a channel closed at the next reload.
func (s *PolicyFileSource) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Watch checks the file every poll interval until ctx ends, and reloads it
// when its content changed.
func (s *PolicyFileSource) Watch(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Reload()
		}
	}
}

// Reload reads the file now; it reports whether a new policy took force.
func (s *PolicyFileSource) Reload() bool {
	data, err := readLimited(s.path)
	if err != nil {
		s.log.Error("auth: cannot read the policy file; the previous policy stays in force", "path", s.path, "err", err)
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Equal(data, s.last) {
		return false
	}
	s.last = data
	p, err := ParsePolicy(data)
	if err != nil {
		s.log.Error("auth: the policy file does not parse; the previous policy stays in force", "path", s.path, "err", err)
		return false
	}
	s.current.Store(p)
	s.version.Add(1)
	close(s.changed)
	s.changed = make(chan struct{})
	s.log.Info("auth: policy reloaded", "path", s.path, "roles", len(p.roles))
	return true
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPolicyBytes {
		return nil, fmt.Errorf("the policy file is larger than %d bytes", MaxPolicyBytes)
	}
	return data, nil
}
