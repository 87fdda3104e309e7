package server

import (
	"fmt"
	"testing"
	"time"
)

// TestFrameQueue: frames come out in order; the bound counts the frames the
// writer has taken and not yet written, so a batch in flight and the frames
// queued behind it never exceed it together.
func TestFrameQueue(t *testing.T) {
	t.Parallel()
	const lag = time.Hour // not in play here
	q := newFrameQueue(3)
	for i := range 3 {
		if q.push(queued{b: []byte(fmt.Sprint(i))}, 0, lag) != queueOK {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.push(queued{b: []byte("x")}, 0, lag) != queueFull {
		t.Fatal("a fourth frame was queued past the limit of 3")
	}
	<-q.ready
	batch, at := q.take()
	if got := fmt.Sprintf("%s", batch); got != "[0 1 2]" {
		t.Fatalf("batch %s", got)
	}
	if q.push(queued{b: []byte("x")}, 0, lag) != queueFull {
		t.Fatal("queued while 3 taken frames are not yet written")
	}
	q.release(batch, at)
	for i := 3; i < 5; i++ {
		if q.push(queued{b: []byte(fmt.Sprint(i))}, 0, lag) != queueOK {
			t.Fatalf("push %d refused after the batch was written", i)
		}
	}
	<-q.ready
	if got, _ := q.take(); fmt.Sprintf("%s", got) != "[3 4]" {
		t.Fatalf("second batch %s", got)
	}
	if got, _ := q.take(); len(got) != 0 {
		t.Fatal("a frame came out twice")
	}
}

// TestFrameQueueLag: a frame is refused when the oldest frame not yet
// written — queued, or taken by the writer and not yet written — was queued
// more than the lag bound before it; as the writer moves on, the oldest
// frame is the one it is at.
func TestFrameQueueLag(t *testing.T) {
	t.Parallel()
	const lag = 10 * time.Second
	q := newFrameQueue(100)
	for i, at := range []time.Duration{1 * time.Second, 2 * time.Second, 5 * time.Second} {
		if q.push(queued{b: []byte(fmt.Sprint(i))}, at, lag) != queueOK {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.push(queued{b: []byte("late")}, 11*time.Second+1, lag) != queueLagging {
		t.Fatal("queued 10 s after a frame still waiting")
	}
	batch, at := q.take()
	if q.push(queued{b: []byte("late")}, 11*time.Second+1, lag) != queueLagging {
		t.Fatal("queued 10 s after a frame taken and not yet written")
	}
	q.writing(at[1]) // the first frame is written
	if q.push(queued{b: []byte("3")}, 11*time.Second+1, lag) != queueOK {
		t.Fatal("refused, though the oldest frame not yet written is 9 s old")
	}
	q.writing(at[2])
	q.release(batch, at)
	// The writer has written its batch: the oldest frame waiting is "3".
	if q.push(queued{b: []byte("4")}, 21*time.Second+2, lag) != queueLagging {
		t.Fatal("queued 10 s after the frame waiting in the queue")
	}
	if q.push(queued{b: []byte("4")}, 21*time.Second, lag) != queueOK {
		t.Fatal("refused at 10 s, the bound itself")
	}
}
