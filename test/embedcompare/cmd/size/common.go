// Package size holds what the binary-size mains share: each main opens one
// kind of store, writes one entity and reads it back, so that the linker
// keeps the store's whole commit and read paths. Compare
// `CGO_ENABLED=0 go build` of ./cmd/size/memory (the baseline) with the
// others (see docs/embedded-store.md).
package size

import (
	"context"
	"fmt"
	"os"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/value"
)

// Run uses the memory store and then the store open returns (in a
// temporary directory), and exits non-zero on any error.
func Run(open func(dir string) (storage.Store, error)) {
	if err := run(open); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(open func(dir string) (storage.Store, error)) error {
	if err := use(memory.New()); err != nil || open == nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ankurah-size")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := open(dir)
	if err != nil {
		return err
	}
	return use(s)
}

func use(s storage.Store) error {
	defer s.Close()
	ctx := context.Background()
	c := schema.Collection{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Text}}}
	if _, err := s.EnsureCollection(ctx, c); err != nil {
		return err
	}
	id := event.NewID()
	if _, err := s.Commit(ctx, []event.Event{{ID: id, Collection: "album", Entity: id, Ops: map[string]value.Value{"name": value.TextOf("x")}}}); err != nil {
		return err
	}
	got, err := s.Get(ctx, "album", []event.ID{id})
	if err != nil || len(got) != 1 {
		return fmt.Errorf("get: %v %v", got, err)
	}
	fmt.Println(got[0].Get("name"))
	return s.Close()
}
