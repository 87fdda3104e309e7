package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"syscall"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
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
	Change *protocol.SchemaChange     `json:"change,omitempty"` // kind "schema": the collection's schema changed
}

const argsDoc = `Each ARG binds the query's next ? placeholder: a JSON value (2001, true,
"x", null, [1,2] for IN (?)) stands for itself, anything else is text. An
ARG that starts with - (a negative number) must follow --:
  ankurah query album 'year > ?' -- -5`

func subscribeCommand() *command {
	return toolCommand("subscribe", []string{"COLLECTION ['QUERY' [ARG…]]"}, 1, -1,
		"print a live query's results, then every change, one JSON object per line",
		`Subscribes to a live query and prints, one JSON object per line: each
entity of the current result set ({"kind":"initial","id":…,"values":{…}}),
then {"kind":"ready"}, then every change as it happens: "add" (an entity
entered the result set), "update" (one in it changed) or "remove" (one left
it: edited out or deleted). It runs until Ctrl-C. A collection that does not
exist yet is empty: the first write that creates it arrives as an "add".
Without a QUERY every entity matches.

`+argsDoc,
		func(ctx context.Context, t *tools, pos []string) error {
			q, args := queryOf(pos)
			return t.subscribe(ctx, pos[0], q, args)
		})
}

func queryCommand() *command {
	return toolCommand("query", []string{"COLLECTION ['QUERY' [ARG…]]"}, 1, -1,
		"print the entities that match a query, in its order",
		`Prints the entities of COLLECTION that match QUERY, in the query's order
(ORDER BY; by id without one), one JSON object per line:
{"id":…,"values":{…}}. The query language is in docs/query-language.md,
e.g. 'year >= ? ORDER BY year DESC LIMIT 10'. Without a QUERY every entity
matches.

`+argsDoc,
		func(ctx context.Context, t *tools, pos []string) error {
			q, args := queryOf(pos)
			return t.query(ctx, pos[0], q, args)
		})
}

func getCommand() *command {
	return toolCommand("get", []string{"COLLECTION ID"}, 2, 2,
		"print one entity",
		`Prints the entity with that id as {"id":…,"values":{…}}; exit status 1 when
it does not exist. Ids are ULIDs (26 letters and digits); case does not matter.`,
		func(ctx context.Context, t *tools, pos []string) error {
			return t.get(ctx, pos[0], pos[1])
		})
}

func putCommand() *command {
	return toolCommand("put", []string{"COLLECTION '{JSON}'", "COLLECTION ID '{JSON}'"}, 2, 3,
		"create an entity (prints its id), or set fields of one",
		`With a JSON object, creates an entity with those fields and prints its id.
The first write to a collection creates it, typed from the values (a
number without a fraction is bigint, with one double precision; text,
boolean, objects and arrays as jsonb); a field the collection lacks is added
the same way.

With an ID, sets those fields of that entity (null unsets one).

Quote the JSON in single quotes so that the shell keeps its double quotes:
  ankurah put album '{"name":"Origin of Symmetry","year":2001}'`,
		func(ctx context.Context, t *tools, pos []string) error {
			if len(pos) == 2 {
				return t.create(ctx, pos[0], pos[1])
			}
			return t.update(ctx, pos[0], pos[1], pos[2])
		})
}

func deleteCommand() *command {
	return toolCommand("delete", []string{"COLLECTION ID"}, 2, 2,
		"delete an entity",
		`Deletes the entity: it leaves the collection (and every live query), and
its history stays (a tombstone event is recorded).`,
		func(ctx context.Context, t *tools, pos []string) error {
			return t.delete(ctx, pos[0], pos[1])
		})
}

// toolCommand is a client tool: --url, the collection name and ids checked
// before anything is sent, then a connection to the server.
func toolCommand(name string, args []string, minArgs, maxArgs int, summary, doc string, body func(context.Context, *tools, []string) error) *command {
	return &command{
		name: name, args: args, summary: summary, doc: doc, minArgs: minArgs, maxArgs: maxArgs,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			u := fs.String("url", envOr(e.getenv, "ANKURAH_URL", DefaultURL), "the server's WebSocket `URL` (env ANKURAH_URL)")
			token := e.getenv("ANKURAH_TOKEN") // never a flag: command lines are visible to every user of the machine
			return func(ctx context.Context, pos []string) error {
				if err := checkWSURL(*u); err != nil {
					return err
				}
				if err := checkCollection(pos[0]); err != nil {
					return err
				}
				if (name == "get" || name == "delete" || name == "put" && len(pos) == 3) && len(pos) > 1 {
					id, err := event.ParseID(pos[1])
					if err != nil {
						return usageError("%s", err.Error())
					}
					pos[1] = id.String()
				}
				if name == "put" {
					doc := pos[len(pos)-1]
					ops, err := fields(doc)
					if err != nil {
						return err
					}
					if len(pos) == 2 {
						if _, err := inferCollection(pos[0], ops); err != nil {
							return err
						}
					}
				}
				if name == "subscribe" || name == "query" {
					q, args := queryOf(pos)
					if err := checkQuery(q, args); err != nil {
						return err
					}
				}
				conn, err := wire.Dial(ctx, *u, wire.Options{Client: "ankurah-cli/" + name, Token: token})
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return dialFailure(*u, err)
				}
				defer conn.Close()
				t := &tools{conn: conn, out: json.NewEncoder(e.stdout), stdout: e.stdout, stderr: e.stderr, gen: event.NewGenerator()}
				err = body(ctx, t, pos)
				if ctx.Err() != nil && errors.Is(err, context.Canceled) {
					return err
				}
				return serverFailure(err)
			}
		},
	}
}

// queryOf splits the positional arguments of subscribe and query.
func queryOf(pos []string) (string, []json.RawMessage) {
	if len(pos) < 2 {
		return "", nil
	}
	return pos[1], queryArgs(pos[2:])
}

func checkWSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") {
		return usageError("--url %q is not a WebSocket URL", clip(raw)).withFix("use ws://HOST:PORT/ws, e.g. %s", DefaultURL)
	}
	return nil
}

func checkCollection(name string) error {
	if err := event.ValidCollectionName(name); err != nil {
		return usageError("%v", err)
	}
	return nil
}

// checkQuery parses the query as the server will, so that a mistake is
// reported before connecting, with its position.
func checkQuery(q string, raw []json.RawMessage) error {
	args, perr := protocol.ParseArgs(raw)
	if perr != nil {
		return usageError("%s", perr.Message)
	}
	parsed, err := query.Parse(q, args...)
	if err == nil {
		_, err = parsed.Compile()
	}
	var qe *query.Error
	if errors.As(err, &qe) {
		return queryFailure(qe.Code, qe.Message, qe.Offset, exitUsage)
	}
	return err
}

func queryFailure(code, msg string, offset, status int) *failure {
	f := &failure{status: status}
	switch {
	case code == query.CodeBadArgument:
		f.msg = msg
		f.fix = "give one ARG after the query for each ? in it (see `ankurah help query`)"
	case offset >= 0:
		f.msg = fmt.Sprintf("the query is not valid at character %d: %s", offset+1, msg)
		f.fix = "the query language is described in docs/query-language.md"
	default:
		f.msg = "the query is not valid: " + msg
		f.fix = "the query language is described in docs/query-language.md"
	}
	return f
}

// dialFailure explains a failed connection to a server.
func dialFailure(u string, err error) error {
	f := failed("cannot reach a server at %s", u)
	var dnsErr *net.DNSError
	var perr *protocol.Error
	switch {
	case errors.As(err, &perr) && (perr.Code == protocol.CodeUnauthenticated || perr.Code == protocol.CodeTokenExpired):
		f.msg += ": it refused the session: " + perr.Message
		return f.withFix("set ANKURAH_TOKEN to a token this server accepts (for local testing: ankurah token --sub NAME --role ROLE)")
	case errors.As(err, &perr):
		f.msg += ": it refused the session: " + perr.Message
		return f
	case errors.Is(err, syscall.ECONNREFUSED):
		f.msg += ": connection refused"
	case errors.As(err, &dnsErr):
		f.msg += ": no such host " + dnsErr.Name
	case strings.Contains(err.Error(), "expected handshake response status code 101"):
		f.msg += ": it is not an Ankurah WebSocket endpoint"
		return f.withFix("the endpoint is the server's address followed by /ws, e.g. %s", DefaultURL)
	default:
		f.msg += ": " + oneLine(innermost(err).Error())
	}
	return f.withFix("start one with `ankurah serve`, or pass --url (or set ANKURAH_URL) to reach another")
}

// serverFailure says what a server's coded error means, without the code.
func serverFailure(err error) error {
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		return err
	}
	switch perr.Code {
	case query.CodeParse, query.CodeTooLong, query.CodeTooDeep, query.CodeInvalidUTF8, query.CodeBadArgument:
		off := -1
		if perr.Offset != nil {
			off = *perr.Offset
		}
		return queryFailure(perr.Code, perr.Message, off, exitFailure)
	case storage.CodeBadName:
		return failed("%s", perr.Message).withFix("new collections and fields have names of lowercase letters, digits and _, starting with a letter")
	case storage.CodeConflict:
		return failed("%s", perr.Message).withFix("run the command again")
	}
	return failed("%s", perr.Message)
}

type tools struct {
	conn           *wire.Conn
	out            *json.Encoder
	stdout, stderr io.Writer
	gen            *event.Generator
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

func (t *tools) subscribe(ctx context.Context, coll, q string, args []json.RawMessage) error {
	var res protocol.SubscribeResult
	if err := t.conn.Do(ctx, protocol.Request{Type: protocol.TypeSubscribe, Sub: "cli", Collection: coll, Query: q, Args: args}, &res); err != nil {
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
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return failed("the server closed the connection: %s", closeReason(t.conn.Err())).withFix("run the command again when the server is back")
			}
			if p.Schema != nil {
				if ch := p.Schema.Change; ch != nil && ch.Collection == coll {
					t.out.Encode(line{Kind: "schema", Change: ch})
				}
				continue
			}
			if p.Ended != "" {
				msg := "the server ended the live query"
				if p.Err != nil {
					msg += ": " + p.Err.Message
				}
				return failed("%s", msg).withFix("run the command again")
			}
			for _, it := range p.Items {
				t.out.Encode(line{Kind: it.Kind, ID: it.Entity.ID, Values: values(it.Entity)})
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func closeReason(err error) string {
	var perr *protocol.Error
	var ce *wire.CloseError
	switch {
	case err == nil:
		return "no reason given"
	case errors.As(err, &perr):
		return perr.Message
	case errors.As(err, &ce) && ce.Reason != "":
		return ce.Reason
	}
	return oneLine(innermost(err).Error())
}

// values never prints null for an entity without fields.
func values(e protocol.Entity) map[string]json.RawMessage {
	if e.Values == nil {
		return map[string]json.RawMessage{}
	}
	return e.Values
}

func (t *tools) query(ctx context.Context, coll, q string, args []json.RawMessage) error {
	var res protocol.EntitiesResult
	if err := t.conn.Do(ctx, protocol.Request{Type: protocol.TypeFetch, Collection: coll, Query: q, Args: args}, &res); err != nil {
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
		return protocol.Entity{}, failed("%s %s does not exist", coll, id).withFix("`ankurah query %s` lists the entities of %s", coll, coll)
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

// fields parses the JSON object of a put and checks its field names.
func fields(doc string) (map[string]json.RawMessage, error) {
	var ops map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &ops); err != nil || ops == nil {
		return nil, usageError("the fields are not a JSON object").withFix(`write them like '{"name":"Origin of Symmetry","year":2001}', in single quotes so that the shell keeps the double quotes`)
	}
	for f := range ops {
		if err := event.ValidFieldName(f); err != nil {
			return nil, usageError("%v", err)
		}
	}
	return ops, nil
}

// create commits a creation; a collection that does not exist yet is
// registered first, with the types of the values given.
func (t *tools) create(ctx context.Context, coll, doc string) error {
	ops, err := fields(doc)
	if err != nil {
		return err
	}
	c, err := inferCollection(coll, ops)
	if err != nil {
		return err
	}
	if err := t.textOps(ctx, coll, ops, nil); err != nil {
		return err
	}
	id := t.gen.New()
	ev := protocol.Event{ID: id.String(), Collection: coll, EntityID: id.String(), Parents: []string{}, Operations: ops}
	err = t.conn.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil)
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == storage.CodeNoCollection {
		// A new collection: its name and its fields' are plain ones.
		if err := storage.CheckNewName("collection", coll); err != nil {
			f := usageError("collection name %q: %v", coll, err)
			if low := strings.ToLower(coll); event.IsPlainName(low) {
				f.withFix("collection names are lowercase: %s (an adopted table's collection keeps its table's name: `ankurah check` lists them)", low)
			}
			return f
		}
		for _, fl := range c.Fields {
			if err := storage.CheckNewName("field", fl.Name); err != nil {
				return usageError("field name %q: %v", fl.Name, err)
			}
		}
		if err = t.conn.Do(ctx, protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{c}}, nil); err != nil {
			return err
		}
		fmt.Fprintf(t.stderr, "ankurah put: created collection %s\n", describe(c))
		err = t.conn.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(t.stdout, id)
	return nil
}

// inferCollection is the schema a first put creates: each field typed by its
// value (null values add no field).
func inferCollection(coll string, ops map[string]json.RawMessage) (protocol.Collection, error) {
	c := protocol.Collection{Name: coll}
	for f, raw := range ops {
		v, err := value.Infer(raw)
		if err != nil {
			return c, usageError("field %q: %v", f, err)
		}
		if !v.IsNull() {
			c.Fields = append(c.Fields, protocol.Field{Name: f, Type: v.Type().String()})
		}
	}
	return c, nil
}

// describe is e.g. album (name text, year bigint).
func describe(c protocol.Collection) string {
	fs := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		fs[i] = f.Name + " " + f.Type
	}
	slices.Sort(fs)
	return fmt.Sprintf("%s (%s)", c.Name, strings.Join(fs, ", "))
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
	if err := t.textOps(ctx, coll, ops, e.Yjs); err != nil {
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

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
