package wire_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
	if err := c.Do(ctx, protocol.Request{Type: protocol.TypeFetch, Collection: "Nope"}, nil); !errors.As(err, &perr) || perr.Code != "bad_name" {
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
