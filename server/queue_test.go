package server

import (
	"fmt"
	"testing"
)

// TestFrameQueue: frames come out in order; the bound counts the frames the
// writer has taken and not yet written, so a batch in flight and the frames
// queued behind it never exceed it together.
func TestFrameQueue(t *testing.T) {
	t.Parallel()
	q := newFrameQueue(3)
	for i := range 3 {
		if !q.push([]byte(fmt.Sprint(i))) {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.push([]byte("x")) {
		t.Fatal("a fourth frame was queued past the limit of 3")
	}
	<-q.ready
	batch := q.take()
	if got := fmt.Sprintf("%s", batch); got != "[0 1 2]" {
		t.Fatalf("batch %s", got)
	}
	if q.push([]byte("x")) {
		t.Fatal("queued while 3 taken frames are not yet written")
	}
	q.release(batch)
	for i := 3; i < 5; i++ {
		if !q.push([]byte(fmt.Sprint(i))) {
			t.Fatalf("push %d refused after the batch was written", i)
		}
	}
	<-q.ready
	if got := fmt.Sprintf("%s", q.take()); got != "[3 4]" {
		t.Fatalf("second batch %s", got)
	}
	if len(q.take()) != 0 {
		t.Fatal("a frame came out twice")
	}
}
