package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/protocol"
)

// LIMIT windows are refilled outside the hub's lock.
//
// When a transaction takes members out of a full ORDER BY … LIMIT window,
// the entities that now belong in it may be ones the reactor has never
// seen: they are in the database, not in the stream. Reading them is
// database I/O, which must not happen under the hub's lock (every session's
// fan-out, subscribe and disconnect waits on it). So the reactor runs
// without a refill source, and such a window goes through three steps:
//
//  1. Freeze (publish, under the lock). The reactor leaves the window as it
//     was before the transaction and reports it stale; the hub records the
//     batch (freezeLocked) and queues the window for a refill worker. From
//     then on skip hides every change from it: it stays exactly what its
//     client holds, as of before that batch. Nothing is sent for it.
//  2. Read (a worker, outside the lock). The worker notes the hub's
//     position P0, then reads the window's query from a snapshot S with
//     Backend.Read — the same read as a new subscription's. Meanwhile the
//     stream goes on: batches P0+1 … P1 are published (to the other
//     subscriptions; the frozen window skips them), and the database may be
//     ahead of the stream as well (S may include batches not yet streamed).
//  3. Replace (under the lock again). Exactly as for a new subscription
//     (catchUpLocked), a fresh reactor subscription starts from the rows
//     read and is brought up to P1: every batch in the ring since P0 (minus
//     a slack) that S does not include is applied to it; every later batch
//     that S includes will be skipped for it (a snapshot filter). The
//     result is the window as of P1, the stream's position. The hub then
//     queues one changes frame for the window's session with the
//     difference between the frozen members (what the client holds) and
//     the new ones — removes, updates, adds — and swaps the subscriptions.
//
// Why that is safe. Under the lock in step 3 the new window equals the
// query's result after every batch up to P1, by the same argument as a new
// subscription's snapshot: batches at or before S are in the rows read,
// batches after S up to P1 are replayed, batches after P1 that S already
// includes are filtered out and those it does not include arrive normally.
// The client held the window as of the freezing batch and received
// nothing for it since, so the difference takes it from that state to the
// state as of P1 in one frame: nothing is lost (every change up to P1 is in
// the new rows or replayed), nothing is applied twice (a batch is either
// in S, or replayed, or streamed later, never two of these), and nothing is
// stale (the window never moves back: its rows are at P1 or ahead). Each
// step holds the lock for its whole duration, so a publish, a subscribe or
// an unsubscribe sees the window either frozen or replaced, never half
// done. If the window was dropped or replaced (unsubscribe,
// update_subscription, disconnect) while the worker read, step 3 does
// nothing. If the replay itself leaves the new window short, it stops
// before that batch, is swapped in as above, and is frozen and queued
// again: each round ends at a later batch, so the window converges.
//
// The price: a refilled window's items for the freezing transaction arrive
// in a later frame than the other subscriptions' items of that transaction
// (docs/protocol.md), and they carry no events (like a subscription's
// result). The client never sees the window short.

// resyncLocked reads every live query again after the stream lost
// transactions (a resync batch, just published as h.seq): each one is
// frozen as of that batch and refilled like a stale LIMIT window, so its
// client receives, in one frame, the difference between what it holds and
// the query's current result. A subscription being read meanwhile (a new
// one, or a refill in flight) meets the resync batch in catchUpLocked and
// is read again too. Nothing the stream lost can stay behind: every read
// starts after the new slot exists, so it sees every transaction committed
// before the new slot's first one.
func (h *hub) resyncLocked() {
	h.metrics.resyncs.Add(1)
	for rs := range h.subs {
		h.freezeLocked(rs, h.seq)
	}
}

// freezeLocked marks a window stale as of before batch seq (see above) and
// queues its refill.
func (h *hub) freezeLocked(rs *reactor.Subscription, seq uint64) {
	sub := h.subs[rs]
	if sub == nil {
		return
	}
	if _, frozen := h.stale[rs]; frozen {
		return
	}
	h.stale[rs] = seq
	h.refills = append(h.refills, sub)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// runRefills runs the refill workers until ctx ends, and returns once they
// have.
func (h *hub) runRefills(ctx context.Context) {
	done := make(chan struct{})
	for range refillWorkers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				h.mu.Lock()
				for len(h.refills) == 0 {
					h.mu.Unlock()
					select {
					case <-h.wake:
					case <-ctx.Done():
						return
					}
					h.mu.Lock()
				}
				sub := h.refills[0]
				h.refills[0] = nil
				h.refills = h.refills[1:]
				more := len(h.refills) > 0
				h.mu.Unlock()
				if more { // pass the token on to another worker
					select {
					case h.wake <- struct{}{}:
					default:
					}
				}
				h.refill(ctx, sub)
			}
		}()
	}
	for range refillWorkers {
		<-done
	}
}

// refill reads a stale window again and replaces it (steps 2 and 3 above).
func (h *hub) refill(ctx context.Context, sub *subscription) {
	for attempt := 0; ; attempt++ {
		h.mu.Lock()
		rs := sub.rs
		if !h.frozenLocked(sub, rs) {
			h.mu.Unlock()
			return
		}
		registered := h.seq
		h.mu.Unlock()

		// A grant that changed (authz.go) reads the live query narrowed
		// anew; otherwise it is the same query.
		q := rs.Query()
		if sub.next != nil {
			q = sub.next
		}
		states, snap, err := h.backend.Read(ctx, rs.Collection(), q)

		h.mu.Lock()
		if !h.frozenLocked(sub, rs) { // dropped or replaced meanwhile
			h.mu.Unlock()
			return
		}
		if err == nil && h.seq-registered > ringSize-ringSlack {
			if attempt < 3 {
				h.mu.Unlock()
				continue
			}
			err = errors.New("the change stream moved too fast to refill the window")
		}
		var next *reactor.Subscription
		var staleAt uint64
		if err == nil {
			if sub.next != nil && sub.next != q { // narrowed again while reading: read again
				h.mu.Unlock()
				continue
			}
			next, staleAt, err = h.catchUpLocked(ctx, rs.Collection(), q, states, snap, registered)
		}
		if err != nil {
			if ctx.Err() == nil { // not the server stopping
				h.endLocked(sub, fmt.Errorf("refilling a LIMIT window: %w", err))
			}
			h.mu.Unlock()
			return
		}
		resend := false
		if sub.next == q {
			resend = !slices.Equal(sub.hidden, sub.nextHidden)
			sub.next, sub.hidden, sub.viewKey = nil, sub.nextHidden, viewKey(sub.nextHidden)
			sub.nextHidden = nil
		}
		h.swapLocked(sub, next, resend)
		h.metrics.refills.Add(1)
		if staleAt != 0 {
			h.freezeLocked(next, staleAt)
		}
		h.mu.Unlock()
		return
	}
}

// frozenLocked reports whether rs is still sub's subscription and stale.
func (h *hub) frozenLocked(sub *subscription, rs *reactor.Subscription) bool {
	_, frozen := h.stale[rs]
	return frozen && h.subs[rs] == sub && sub.rs == rs
}

// swapLocked replaces a frozen window by next, its refilled copy, and queues
// the difference for the client: removes, then updates, then adds, each in
// query order. With resend (the fields the client may see changed), every
// member that stays is sent again.
func (h *hub) swapLocked(sub *subscription, next *reactor.Subscription, resend bool) {
	old := sub.rs
	frozenAt := h.stale[old]
	before := h.reactor.Members(old)
	after := h.reactor.Members(next)
	was := make(map[event.ID]*entity.State, len(before))
	for _, st := range before {
		was[st.ID] = st
	}
	is := make(map[event.ID]bool, len(after))
	for _, st := range after {
		is[st.ID] = true
	}
	// A removed entity is shown as the stream last had it (the values that
	// made it leave, or deleted), like a removal in a batch.
	now := map[event.ID]*entity.State{}
	for _, st := range before {
		if !is[st.ID] {
			now[st.ID] = st
		}
	}
	if len(now) > 0 {
		from := frozenAt
		if h.seq >= ringSize && from <= h.seq-ringSize {
			from = h.seq - ringSize + 1
		}
		for seq := from; seq <= h.seq; seq++ {
			b := h.ring[seq%ringSize]
			if b == nil {
				continue
			}
			for _, ch := range b.changes {
				if st, ok := now[ch.ID]; ok {
					if ch.New == nil {
						c := *st
						c.Deleted = true
						now[ch.ID] = &c
					} else {
						now[ch.ID] = ch.New
					}
				}
			}
		}
	}

	f := append(make([]byte, 0, 256), `{"type":"changes","items":[`...)
	n := 0
	item := func(kind reactor.Kind, st *entity.State) {
		if n > 0 {
			f = append(f, ',')
		}
		n++
		f = append(f, `{"sub":`...)
		f = append(f, sub.nameJSON...)
		f = append(f, `,"kind":"`...)
		f = append(f, kind.String()...)
		f = append(f, `","entity":`...)
		f = protocol.AppendEntity(f, view(st, sub.hidden))
		f = append(f, '}')
	}
	for _, st := range before {
		if !is[st.ID] {
			item(reactor.Remove, now[st.ID])
		}
	}
	for _, st := range after {
		if o := was[st.ID]; o != nil && (resend || !o.Head.Equal(st.Head)) {
			item(reactor.Update, st)
		}
	}
	for _, st := range after {
		if was[st.ID] == nil {
			item(reactor.Add, st)
		}
	}

	h.reactor.Unsubscribe(old)
	delete(h.subs, old)
	delete(h.filters, old)
	delete(h.stale, old)
	h.subs[next] = sub
	sub.rs = next
	if n > 0 {
		f = append(f, "]}"...)
		sub.frames++
		sub.items += int64(n)
		sub.bytes += int64(len(f))
		sub.sess.enqueue(f)
	}
}
