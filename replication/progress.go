package replication

import (
	"sync"
)

// progress tracks the acknowledged position. It outlives sessions: a
// reconnect starts streaming from it, so transactions the handler already
// took are not delivered again by the same Consumer.
//
// Two things move it forward. A transaction the handler accepted moves it to
// the transaction's end. A keepalive moves it to the server's WAL position,
// but only while nothing is pending — no transaction decoded but not yet
// handled, none half received — because then every transaction before that
// position has been handled; without this an idle database (or one whose
// WAL comes from other databases and unpublished tables) would keep WAL
// pinned forever.
type progress struct {
	mu      sync.Mutex
	acked   LSN
	pending int // transactions handed to the delivery goroutine, not yet acknowledged
}

// reset starts a session: whatever was queued in the last one is gone (it
// will be streamed again), and the position is at least from (the slot's or
// the configured start).
func (p *progress) reset(from LSN) LSN {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = 0
	p.acked = max(p.acked, from)
	return p.acked
}

// handed records a transaction entering the delivery queue.
func (p *progress) handed() {
	p.mu.Lock()
	p.pending++
	p.mu.Unlock()
}

// done records a transaction the handler accepted (or one with nothing to
// hand over), in commit order.
func (p *progress) done(end LSN) {
	p.mu.Lock()
	p.pending--
	p.acked = max(p.acked, end)
	p.mu.Unlock()
}

// idle moves the position to the server's WAL end when nothing is pending.
// The caller has checked that no transaction is half received.
func (p *progress) idle(walEnd LSN) {
	p.mu.Lock()
	if p.pending == 0 {
		p.acked = max(p.acked, walEnd)
	}
	p.mu.Unlock()
}

// position returns the acknowledged position.
func (p *progress) position() LSN {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked
}
