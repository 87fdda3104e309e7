package replication

import (
	"sync"
)

// progress tracks the acknowledged position. It outlives sessions: a
// reconnect starts streaming from it, so transactions the handler already
// took are not delivered again by the same Consumer.
//
// Two things move it forward. Transactions acknowledged — when the handler
// accepted them, or with Config.DeferAck when Ack says so — move it to the
// end of the last of them that has every earlier one acknowledged too. A
// keepalive moves it to the server's WAL position, but only while nothing
// is pending — no transaction decoded but not yet acknowledged, none half
// received — because then every transaction before that position has been
// handled; without this an idle database (or one whose WAL comes from other
// databases and unpublished tables) would keep WAL pinned forever.
type progress struct {
	mu    sync.Mutex
	acked LSN
	// pending are the transactions handed to the delivery goroutine and
	// not yet acknowledged, in commit order.
	pending []pendingTx
}

type pendingTx struct {
	end  LSN
	done bool
}

// reset starts a session: whatever was queued in the last one is gone (it
// will be streamed again), and the position is at least from (the slot's or
// the configured start).
func (p *progress) reset(from LSN) LSN {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = p.pending[:0]
	p.acked = max(p.acked, from)
	return p.acked
}

// handed records a transaction entering the delivery queue.
func (p *progress) handed(end LSN) {
	p.mu.Lock()
	p.pending = append(p.pending, pendingTx{end: end})
	p.mu.Unlock()
}

// done acknowledges every pending transaction that ends at or before end,
// and moves the position past the ones with nothing pending before them.
// An end past every pending transaction (an acknowledgement that arrives
// after its session was replaced) moves the position all the same: it says
// that everything up to it is durable.
func (p *progress) done(end LSN) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.pending {
		if p.pending[i].end <= end {
			p.pending[i].done = true
		}
	}
	p.advance()
	if len(p.pending) == 0 {
		p.acked = max(p.acked, end)
	}
}

// skip acknowledges the one pending transaction that ends at end (one with
// nothing for the handler), without vouching for earlier ones still in
// flight.
func (p *progress) skip(end LSN) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.pending {
		if p.pending[i].end == end {
			p.pending[i].done = true
		}
	}
	p.advance()
}

// advance drops the acknowledged transactions at the front of pending,
// moving the position past them. p.mu is held.
func (p *progress) advance() {
	n := 0
	for n < len(p.pending) && p.pending[n].done {
		p.acked = max(p.acked, p.pending[n].end)
		n++
	}
	p.pending = append(p.pending[:0], p.pending[n:]...)
}

// idle moves the position to the server's WAL end when nothing is pending.
// The caller has checked that no transaction is half received.
func (p *progress) idle(walEnd LSN) {
	p.mu.Lock()
	if len(p.pending) == 0 {
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
