package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// DefaultURL is where the client tools find a server.
const DefaultURL = "ws://127.0.0.1:9797/ws"

// line is one line of the tools' output.
type line struct {
	Kind   string                     `json:"kind,omitempty"`
	ID     string                     `json:"id,omitempty"`
	Values map[string]json.RawMessage `json:"values,omitempty"`
}

// tool runs one of the client tools: subscribe, query, get, put, delete.
func tool(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ankurah "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", envOr(getenv, "ANKURAH_URL", DefaultURL), "server WebSocket URL (env ANKURAH_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pos := fs.Args()
	usage := func(want string) int {
		fmt.Fprintf(stderr, "usage: ankurah %s %s\n", cmd, want)
		return 2
	}
	switch cmd {
	case "subscribe", "query":
		if len(pos) < 2 {
			return usage("COLLECTION 'QUERY' [ARG…]")
		}
	case "get", "delete":
		if len(pos) != 2 {
			return usage("COLLECTION ID")
		}
	case "put":
		if len(pos) != 2 && len(pos) != 3 {
			return usage("COLLECTION '{JSON}'  or  ankurah put COLLECTION ID '{JSON}'")
		}
	}
	conn, err := wire.Dial(ctx, *url, wire.Options{Client: "ankurah-cli/" + cmd})
	if err != nil {
		fmt.Fprintf(stderr, "ankurah %s: cannot reach a server at %s: %v\n", cmd, *url, err)
		return 1
	}
	defer conn.Close()
	t := &tools{conn: conn, out: json.NewEncoder(stdout), errw: stderr, gen: event.NewGenerator()}
	switch cmd {
	case "subscribe":
		err = t.subscribe(ctx, pos[0], pos[1], pos[2:])
	case "query":
		err = t.query(ctx, pos[0], pos[1], pos[2:])
	case "get":
		err = t.get(ctx, pos[0], pos[1])
	case "put":
		if len(pos) == 2 {
			err = t.create(ctx, pos[0], pos[1], stdout)
		} else {
			err = t.update(ctx, pos[0], pos[1], pos[2])
		}
	case "delete":
		err = t.delete(ctx, pos[0], pos[1])
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0 // interrupted: the normal end of subscribe
		}
		fmt.Fprintf(stderr, "ankurah %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type tools struct {
	conn *wire.Conn
	out  *json.Encoder
	errw io.Writer
	gen  *event.Generator
}

// queryArgs turns command-line placeholders into JSON: a valid JSON value
// stands for itself, anything else is text.
func queryArgs(args []string) []json.RawMessage {
	out := make([]json.RawMessage, len(args))
	for i, a := range args {
		if json.Valid([]byte(a)) {
			out[i] = json.RawMessage(a)
		} else {
			out[i], _ = json.Marshal(a)
		}
	}
	return out
}

func (t *tools) subscribe(ctx context.Context, coll, q string, args []string) error {
	var res protocol.SubscribeResult
	if err := t.conn.Do(ctx, protocol.Request{Type: protocol.TypeSubscribe, Sub: "cli", Collection: coll, Query: q, Args: queryArgs(args)}, &res); err != nil {
		return err
	}
	for _, e := range res.Entities {
		t.out.Encode(line{Kind: "initial", ID: e.ID, Values: values(e)})
	}
	t.out.Encode(line{Kind: "ready"})
	for {
		select {
		case p, ok := <-t.conn.Changes():
			if !ok {
				return fmt.Errorf("the server closed the connection: %v", t.conn.Err())
			}
			if p.Ended != "" {
				return fmt.Errorf("the server ended the subscription: %v", p.Err)
			}
			for _, it := range p.Items {
				t.out.Encode(line{Kind: it.Kind, ID: it.Entity.ID, Values: values(it.Entity)})
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// values never prints null for an entity without fields.
func values(e protocol.Entity) map[string]json.RawMessage {
	if e.Values == nil {
		return map[string]json.RawMessage{}
	}
	return e.Values
}

func (t *tools) query(ctx context.Context, coll, q string, args []string) error {
	var res protocol.EntitiesResult
	if err := t.conn.Do(ctx, protocol.Request{Type: protocol.TypeFetch, Collection: coll, Query: q, Args: queryArgs(args)}, &res); err != nil {
		return err
	}
	for _, e := range res.Entities {
		t.out.Encode(line{ID: e.ID, Values: values(e)})
	}
	return nil
}

func (t *tools) entity(ctx context.Context, coll, id string) (protocol.Entity, error) {
	var res protocol.EntitiesResult
	if err := t.conn.Do(ctx, protocol.Request{Type: protocol.TypeGet, Collection: coll, IDs: []string{id}}, &res); err != nil {
		return protocol.Entity{}, err
	}
	if len(res.Entities) == 0 {
		return protocol.Entity{}, fmt.Errorf("%s %s does not exist", coll, id)
	}
	return res.Entities[0], nil
}

func (t *tools) get(ctx context.Context, coll, id string) error {
	e, err := t.entity(ctx, coll, id)
	if err != nil {
		return err
	}
	return t.out.Encode(line{ID: e.ID, Values: values(e)})
}

// fields parses the JSON object of a put.
func fields(doc string) (map[string]json.RawMessage, error) {
	var ops map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &ops); err != nil || ops == nil {
		return nil, fmt.Errorf("the fields must be a JSON object, like '{\"name\":\"Origin of Symmetry\",\"year\":2001}'")
	}
	return ops, nil
}

// create commits a creation; a collection that does not exist yet is
// registered first, with the types of the values given.
func (t *tools) create(ctx context.Context, coll, doc string, stdout io.Writer) error {
	ops, err := fields(doc)
	if err != nil {
		return err
	}
	id := t.gen.New()
	ev := protocol.Event{ID: id.String(), Collection: coll, EntityID: id.String(), Parents: []string{}, Operations: ops}
	err = t.conn.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil)
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == storage.CodeNoCollection {
		if err = t.register(ctx, coll, ops); err == nil {
			err = t.conn.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	return nil
}

func (t *tools) register(ctx context.Context, coll string, ops map[string]json.RawMessage) error {
	c := protocol.Collection{Name: coll}
	for f, raw := range ops {
		v, err := value.Infer(raw)
		if err != nil {
			return fmt.Errorf("field %q: %w", f, err)
		}
		if !v.IsNull() {
			c.Fields = append(c.Fields, protocol.Field{Name: f, Type: v.Type().String()})
		}
	}
	fmt.Fprintf(t.errw, "ankurah put: created collection %q\n", coll)
	return t.conn.Do(ctx, protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{c}}, nil)
}

// change commits one event on top of the entity's current head.
func (t *tools) change(ctx context.Context, coll, id string, ops map[string]json.RawMessage, del bool) error {
	e, err := t.entity(ctx, coll, id)
	if err != nil {
		return err
	}
	head, err := event.ParseHead(e.Head)
	if err != nil {
		return err
	}
	ev := protocol.Event{ID: t.gen.New(head...).String(), Collection: coll, EntityID: e.ID, Parents: e.Head, Operations: ops, Delete: del}
	return t.conn.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil)
}

func (t *tools) update(ctx context.Context, coll, id, doc string) error {
	ops, err := fields(doc)
	if err != nil {
		return err
	}
	return t.change(ctx, coll, id, ops, false)
}

func (t *tools) delete(ctx context.Context, coll, id string) error {
	return t.change(ctx, coll, id, map[string]json.RawMessage{}, true)
}
