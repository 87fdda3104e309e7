package wire_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/leakcheck"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestConn: requests get their answers, pushes arrive numbered after the
// answer that preceded them, and a server going away ends the connection
// with a reason and releases waiting requests.
func TestConn(t *testing.T) {
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := wire.Dial(ctx, env.URL, wire.Options{Client: "wire-test"})
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Welcome(); w.Protocol != protocol.Version || w.Session == "" || w.Limits.MaxFrameBytes == 0 {
		t.Fatalf("welcome: %+v", w)
	}
	if err := c.Do(ctx, protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{{Name: "t", Fields: []protocol.Field{{Name: "n", Type: "bigint"}}}}}, nil); err != nil {
		t.Fatal(err)
	}
	seq, err := c.DoSeq(ctx, protocol.Request{Type: protocol.TypeSubscribe, Sub: "s", Collection: "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var perr *protocol.Error
	if err := c.Do(ctx, protocol.Request{Type: protocol.TypeFetch, Collection: "_nope"}, nil); !errors.As(err, &perr) || perr.Code != "bad_name" {
		t.Fatalf("coded error: %v", err)
	}
	id := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	if err := c.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{{ID: id, Collection: "t", EntityID: id, Parents: []string{}}}}, nil); err != nil {
		t.Fatal(err)
	}
	p := <-c.Changes()
	if p.Seq <= seq || len(p.Items) != 1 || p.Items[0].Kind != "add" {
		t.Fatalf("push %+v after answer %d", p, seq)
	}
	env.Stop()
	<-c.Done()
	if !errors.As(c.Err(), &perr) || perr.Code != protocol.CodeShuttingDown {
		t.Fatalf("close reason: %v", c.Err())
	}
	if err := c.Do(ctx, protocol.Request{Type: protocol.TypeCollections}, nil); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	for range c.Changes() {
	}
	c.Close()
}

// orderLog is a Handler that records pushes and answers in the order the
// reader hands them over.
type orderLog struct {
	mu     sync.Mutex
	events []string
	more   chan struct{}
}

func (l *orderLog) add(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
	select {
	case l.more <- struct{}{}:
	default:
	}
}

func (l *orderLog) Changes(items []protocol.Item) {
	for _, it := range items {
		l.add("push " + it.Sub + " " + it.Kind + " " + it.Entity.ID)
	}
}
func (l *orderLog) Ended(sub string, err *protocol.Error) { l.add("ended " + sub) }
func (l *orderLog) TokenExpiring(at time.Time)            { l.add("token expiring") }
func (l *orderLog) Schema(*protocol.ServerFrame)          { l.add("schema") }

// TestHandlerOrder: with a Handler, answers (Send's callbacks) and pushes
// are handed over on one goroutine in the server's order — each
// subscription's answer before the changes that follow it — and a
// connection that ends fails the callbacks still waiting, with ErrClosed.
func TestHandlerOrder(t *testing.T) {
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := wire.Dial(ctx, env.URL, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Do(ctx, protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{{Name: "t", Fields: []protocol.Field{{Name: "n", Type: "bigint"}}}}}, nil); err != nil {
		t.Fatal(err)
	}
	log := &orderLog{more: make(chan struct{}, 1)}
	c, err := wire.Dial(ctx, env.URL, wire.Options{Handler: log})
	if err != nil {
		t.Fatal(err)
	}
	if c.Changes() != nil {
		t.Fatal("Changes is not nil with a Handler")
	}
	// Subscriptions are sent without waiting while another connection
	// commits: whatever the interleaving, a subscription's pushes come
	// after its answer.
	for i := range 5 {
		sub := fmt.Sprint("s", i)
		if err := c.Send(&protocol.Request{Type: protocol.TypeSubscribe, Sub: sub, Collection: "t"}, func(_ json.RawMessage, err error) {
			if err != nil {
				t.Errorf("subscribe %s: %v", sub, err)
			}
			log.add("answer " + sub)
		}); err != nil {
			t.Fatal(err)
		}
		id := event.NewID().String()
		if err := w.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{{ID: id, Collection: "t", EntityID: id, Parents: []string{}}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Once every subscription is answered, a last creation reaches all of
	// them: once it has, everything before it has been handed over.
	waitLog := func(what string, done func([]string) bool) {
		for {
			log.mu.Lock()
			ok := done(log.events)
			log.mu.Unlock()
			if ok {
				return
			}
			select {
			case <-log.more:
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v", what, log.events)
			}
		}
	}
	waitLog("the answers", func(evs []string) bool {
		n := 0
		for _, e := range evs {
			if strings.HasPrefix(e, "answer ") {
				n++
			}
		}
		return n == 5
	})
	marker := event.NewID().String()
	if err := w.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{{ID: marker, Collection: "t", EntityID: marker, Parents: []string{}}}}, nil); err != nil {
		t.Fatal(err)
	}
	waitLog("the marker", func(evs []string) bool {
		n := 0
		for _, e := range evs {
			if strings.HasSuffix(e, marker) {
				n++
			}
		}
		return n == 5
	})
	log.mu.Lock()
	answered := map[string]bool{}
	for _, e := range log.events {
		f := strings.Fields(e)
		switch f[0] {
		case "answer":
			answered[f[1]] = true
		case "push":
			if !answered[f[1]] {
				t.Errorf("a push for %s before its answer: %v", f[1], log.events)
			}
		}
	}
	log.mu.Unlock()

	// A request in flight when the connection ends gets ErrClosed.
	failed := make(chan error, 1)
	env.Stop()
	err = c.Send(&protocol.Request{Type: protocol.TypeCollections}, func(_ json.RawMessage, err error) { failed <- err })
	if err == nil {
		err = <-failed
	}
	<-c.Done()
	if !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("a request on an ending connection: %v", err)
	}
	c.Close()
}

// TestCloseWithUnreadChanges: Close returns even when nobody reads the
// Changes channel and the reader is blocked handing a push over.
func TestCloseWithUnreadChanges(t *testing.T) {
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := wire.Dial(ctx, env.URL, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, err := wire.Dial(ctx, env.URL, wire.Options{Pushes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{{Name: "t", Fields: []protocol.Field{{Name: "n", Type: "bigint"}}}}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, protocol.Request{Type: protocol.TypeSubscribe, Sub: "s", Collection: "t"}, nil); err != nil {
		t.Fatal(err)
	}
	// The first push fills the channel, the second blocks the reader.
	for range 2 {
		id := event.NewID().String()
		if err := w.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{{ID: id, Collection: "t", EntityID: id, Parents: []string{}}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The server sent the second push before w's answer; whenever it
	// reaches c's reader, the reader blocks on it, and stays blocked.
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close hangs while a push waits for a reader")
	}
}
