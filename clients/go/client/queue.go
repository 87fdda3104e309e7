package client

import (
	"sync"
)

// queue delivers values to fn from one goroutine, in order, never blocking
// the producer.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	wake   chan struct{}
	done   chan struct{}
	closed bool
	fn     func(T)
}

func newQueue[T any](fn func(T)) *queue[T] {
	q := &queue[T]{wake: make(chan struct{}, 1), done: make(chan struct{}), fn: fn}
	go q.run()
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
