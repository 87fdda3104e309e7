package client

import (
	"sync"
)

// queue delivers values to fn from one goroutine, in order, never blocking
// the producer. The goroutine belongs to the client's group g: Close waits
// for it, except while it runs the application's code (g.call).
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	wake   chan struct{}
	done   chan struct{}
	closed bool
	fn     func(T)
	exit   func() // run when the goroutine ends (nil: nothing)
}

func newQueue[T any](g *group, fn func(T), exit func()) *queue[T] {
	q := &queue[T]{wake: make(chan struct{}, 1), done: make(chan struct{}), fn: fn, exit: exit}
	g.add()
	go func() {
		defer g.done()
		q.run()
	}()
	return q
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue[T]) run() {
	defer close(q.done)
	if q.exit != nil {
		defer q.exit()
	}
	for {
		q.mu.Lock()
		for len(q.items) == 0 {
			if q.closed {
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		v := q.items[0]
		var zero T
		q.items[0] = zero
		q.items = q.items[1:]
		q.mu.Unlock()
		q.fn(v)
	}
}

// close stops the queue: items not yet delivered are dropped. It does not
// wait for a delivery in progress (which may be the caller).
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// group counts a client's delivery goroutines — live queries' change sets,
// watches, OnRejected — while they are not running the application's code,
// so that Close can wait for them: a callback in progress is not waited
// for, since it may be the one calling Close; its goroutine ends when it
// returns.
type group struct {
	mu   sync.Mutex
	n    int
	zero *sync.Cond
}

func newGroup() *group {
	g := &group{}
	g.zero = sync.NewCond(&g.mu)
	return g
}

// add counts a goroutine about to start (before the go statement).
func (g *group) add() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

// done: a goroutine ends.
func (g *group) done() {
	g.mu.Lock()
	g.n--
	if g.n == 0 {
		g.zero.Broadcast()
	}
	g.mu.Unlock()
}

// call runs the application's fn on a counted goroutine, uncounted.
func (g *group) call(fn func()) {
	g.done()
	defer g.add()
	fn()
}

// wait waits until every counted goroutine has ended or is in a call.
func (g *group) wait() {
	g.mu.Lock()
	for g.n > 0 {
		g.zero.Wait()
	}
	g.mu.Unlock()
}
