package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The client worker holds the benchmark's WebSocket connections. It runs in
// a process of its own (`ankurah bench --worker`, started by Run), so that
// the server's memory can be measured without the clients' and the clients'
// CPU is not accounted to the server's process; or, for tests, in the same
// process. The coordinator drives it with one JSON command per step on its
// input and reads one JSON reply per command from its output.

// command is what the coordinator asks the worker to do.
type command struct {
	Op string `json:"op"` // mem, connect, subscribe, wait, report, close

	URL        string   `json:"url,omitempty"`        // connect
	Conns      int      `json:"conns,omitempty"`      // connect
	Tokens     []string `json:"tokens,omitempty"`     // connect: connection i's token, when a policy runs
	Subs       int      `json:"subs,omitempty"`       // subscribe: per connection
	Keys       int      `json:"keys,omitempty"`       // subscribe
	Collection string   `json:"collection,omitempty"` // subscribe
	Predicate  string   `json:"predicate,omitempty"`  // subscribe: PredicateEq…
	Items      int64    `json:"items,omitempty"`      // wait: until this many items arrived
	TimeoutMS  int64    `json:"timeout_ms,omitempty"` // wait
}

// reply is the worker's answer to one command.
type reply struct {
	Err       string  `json:"err,omitempty"`
	ElapsedMS float64 `json:"elapsed_ms"`
	Mem       Mem     `json:"mem"` // after the command (connect, subscribe)

	Requests    int64  `json:"requests,omitempty"`    // subscribe: answered with a result
	Errors      int64  `json:"errors,omitempty"`      // subscribe: answered with an error
	FirstError  string `json:"first_error,omitempty"` // subscribe
	Frames      int64  `json:"frames"`                // changes frames received so far
	Items       int64  `json:"items"`                 // their items
	Ended       int    `json:"ended"`                 // connections that closed
	EndedReason string `json:"ended_reason,omitempty"`
	BadItems    int64  `json:"bad_items,omitempty"` // items without a payload marker

	// report: one receipt per item, Seqs[i] received at Times[i] (Unix ns).
	Seqs  []int64 `json:"seqs,omitempty"`
	Times []int64 `json:"times,omitempty"`
}

// Mem is a process's memory after a full garbage collection.
type Mem struct {
	HeapAlloc  int64 `json:"heap_alloc"`  // live heap objects
	StackInuse int64 `json:"stack_inuse"` // goroutine stacks
	Goroutines int   `json:"goroutines"`
	Sys        int64 `json:"sys"` // everything the runtime obtained from the OS
}

// Total is the live heap plus goroutine stacks.
func (m Mem) Total() int64 { return m.HeapAlloc + m.StackInuse }

// ReadMem collects garbage twice (finalizers and sync.Pool caches are
// released by the second) and reads the runtime's memory statistics.
func ReadMem() Mem {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Mem{HeapAlloc: int64(ms.HeapAlloc), StackInuse: int64(ms.StackInuse), Goroutines: runtime.NumGoroutine(), Sys: int64(ms.Sys)}
}

// Worker serves the coordinator's commands from in until it reads `close`
// or in ends, writing one reply per command to out.
func Worker(ctx context.Context, in io.Reader, out io.Writer) error {
	raiseFileLimit()
	w := &worker{}
	defer w.closeAll()
	dec := json.NewDecoder(in)
	enc := json.NewEncoder(out)
	for {
		var cmd command
		if err := dec.Decode(&cmd); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("load worker: reading a command: %w", err)
		}
		began := time.Now()
		var r reply
		var err error
		switch cmd.Op {
		case "connect":
			err = w.connect(ctx, cmd.URL, cmd.Conns, cmd.Tokens)
			r.Mem = ReadMem()
		case "subscribe":
			err = w.subscribe(ctx, cmd, &r)
			r.Mem = ReadMem()
		case "wait":
			w.wait(ctx, cmd.Items, time.Duration(cmd.TimeoutMS)*time.Millisecond)
		case "mem":
			r.Mem = ReadMem()
		case "report":
			r.Seqs, r.Times = w.receipts()
		case "close":
			w.closeAll()
		default:
			err = fmt.Errorf("unknown command %q", cmd.Op)
		}
		if err != nil {
			r.Err = err.Error()
		}
		w.counts(&r)
		r.ElapsedMS = float64(time.Since(began).Microseconds()) / 1000
		if err := enc.Encode(&r); err != nil {
			return fmt.Errorf("load worker: writing a reply: %w", err)
		}
		if cmd.Op == "close" {
			return nil
		}
	}
}

type worker struct {
	conns    []*clientConn
	items    atomic.Int64
	frames   atomic.Int64
	badItems atomic.Int64
	ended    atomic.Int64

	mu          sync.Mutex
	endedReason string
	subWG       sync.WaitGroup
	requests    atomic.Int64
	reqErrors   atomic.Int64
	firstError  string
	closed      bool
}

// clientConn is one WebSocket session.
type clientConn struct {
	w       *worker
	ws      *websocket.Conn
	pending atomic.Int64 // subscribe requests not yet answered
	done    chan struct{}

	mu    sync.Mutex
	seqs  []int64
	times []int64
}

func (w *worker) connect(ctx context.Context, url string, n int, tokens []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	conns := make([]*clientConn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 64) // dials in flight
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			token := ""
			if i < len(tokens) {
				token = tokens[i]
			}
			conns[i], errs[i] = w.dial(ctx, url, token)
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			w.conns = append(w.conns, c)
			go c.read()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%d of %d connections failed: %w", n-len(w.conns), n, firstErr(errs))
	}
	return nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) dial(ctx context.Context, url, token string) (*clientConn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(64 << 20)
	hello, _ := json.Marshal(map[string]any{"type": "hello", "protocol": 1, "client": "ankurah-bench", "token": token})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		ws.CloseNow()
		return nil, err
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if !bytes.HasPrefix(data, []byte(`{"type":"welcome"`)) {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake answered with %.200s", data)
	}
	return &clientConn{w: w, ws: ws, done: make(chan struct{})}, nil
}

// subscribe gives connection i the subscriptions of shape cmd.Predicate
// (SubQuery) for the keys
// SubKey(i, 0…subs-1, subs, keys); the requests of one connection are sent
// without waiting for answers (the server answers them in order).
func (w *worker) subscribe(ctx context.Context, cmd command, r *reply) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var sendErrs atomic.Int64
	var wg sync.WaitGroup
	for i, c := range w.conns {
		select {
		case <-c.done:
			sendErrs.Add(1)
			continue // closed already: nothing to wait for
		default:
		}
		c.pending.Add(int64(cmd.Subs))
		w.subWG.Add(cmd.Subs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range cmd.Subs {
				q, args := SubQuery(cmd.Predicate, i*cmd.Subs+j, SubKey(i, j, cmd.Subs, cmd.Keys))
				f := fmt.Appendf(nil, `{"type":"subscribe","id":%d,"sub":"s%d","collection":%q,"query":%q,"args":%s}`,
					j+1, j, cmd.Collection, q, args)
				if err := c.ws.Write(ctx, websocket.MessageText, f); err != nil {
					sendErrs.Add(1)
					c.ws.CloseNow() // the reader releases the pending requests
					return
				}
			}
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { w.subWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("subscriptions not answered within the deadline (%d answered)", w.requests.Load()+w.reqErrors.Load())
	}
	r.Requests, r.Errors = w.requests.Load(), w.reqErrors.Load()
	w.mu.Lock()
	r.FirstError = w.firstError
	w.mu.Unlock()
	if n := sendErrs.Load(); n > 0 {
		return fmt.Errorf("%d connections failed while subscribing", n)
	}
	if r.Errors > 0 || r.Requests != int64(len(w.conns)*cmd.Subs) {
		return fmt.Errorf("%d of %d subscriptions failed (first: %s)", int64(len(w.conns)*cmd.Subs)-r.Requests, len(w.conns)*cmd.Subs, r.FirstError)
	}
	return nil
}

// serverFrame is as much of a server frame as the worker reads.
type serverFrame struct {
	Type  string `json:"type"`
	ID    uint64 `json:"id"`
	Items []struct {
		Entity struct {
			Values struct {
				Payload string `json:"payload"`
			} `json:"values"`
		} `json:"entity"`
	} `json:"items"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// read is the connection's reader. A changes frame is timestamped as soon
// as it has been read, before it is decoded.
func (c *clientConn) read() {
	defer close(c.done)
	w := c.w
	defer func() { // release subscribe requests that will never be answered
		if n := c.pending.Swap(0); n > 0 {
			w.subWG.Add(-int(n))
		}
	}()
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			w.ended.Add(1)
			w.mu.Lock()
			if w.endedReason == "" && !w.closed {
				w.endedReason = err.Error()
			}
			w.mu.Unlock()
			return
		}
		now := time.Now().UnixNano()
		var f serverFrame
		if err := json.Unmarshal(data, &f); err != nil {
			w.badItems.Add(1)
			continue
		}
		switch f.Type {
		case "changes":
			c.mu.Lock()
			for _, it := range f.Items {
				seq, ok := ParseMarker(it.Entity.Values.Payload)
				if !ok {
					w.badItems.Add(1)
					continue
				}
				c.seqs = append(c.seqs, seq)
				c.times = append(c.times, now)
			}
			c.mu.Unlock()
			w.frames.Add(1)
			w.items.Add(int64(len(f.Items)))
		case "result":
			if c.pending.Add(-1) >= 0 {
				w.requests.Add(1)
				w.subWG.Done()
			}
		case "error":
			msg := "?"
			if f.Error != nil {
				msg = f.Error.Code + ": " + f.Error.Message
			}
			if f.ID != 0 && c.pending.Add(-1) >= 0 {
				w.reqErrors.Add(1)
				w.subWG.Done()
			}
			w.mu.Lock()
			if f.ID != 0 && w.firstError == "" {
				w.firstError = msg
			}
			if f.ID == 0 && w.endedReason == "" {
				w.endedReason = msg
			}
			w.mu.Unlock()
		}
	}
}

// wait returns once n items have arrived, or after timeout.
func (w *worker) wait(ctx context.Context, n int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for w.items.Load() < n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // polling a counter, bounded by the deadline
	}
}

func (w *worker) receipts() (seqs, times []int64) {
	for _, c := range w.conns {
		c.mu.Lock()
		seqs = append(seqs, c.seqs...)
		times = append(times, c.times...)
		c.mu.Unlock()
	}
	return seqs, times
}

func (w *worker) counts(r *reply) {
	r.Frames, r.Items, r.BadItems = w.frames.Load(), w.items.Load(), w.badItems.Load()
	r.Ended = int(w.ended.Load())
	w.mu.Lock()
	r.EndedReason = w.endedReason
	w.mu.Unlock()
}

// closeAll closes every connection normally and waits for the readers.
func (w *worker) closeAll() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range w.conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.ws.Close(websocket.StatusNormalClosure, ""); err != nil {
				c.ws.CloseNow()
			}
			<-c.done
		}()
	}
	wg.Wait()
}

// SubKey is the key of subscription j of connection i: consecutive
// subscriptions over the keys, so that with conns·subs a multiple of keys
// every key has the same number of subscribers, on different connections
// when subs ≤ keys.
func SubKey(i, j, subs, keys int) int { return (i*subs + j) % keys }

// SubQuery returns the query text and JSON arguments of subscription n
// (counted over all connections) on key k in the given shape; each matches
// exactly the rows whose key is k.
func SubQuery(predicate string, n, k int) (string, string) {
	if predicate == PredicateMixed {
		predicate = Predicates[n%len(Predicates)]
	}
	switch predicate {
	case PredicateIn:
		return "key IN (?, ?)", fmt.Sprintf("[%d,%d]", k, -1-k)
	case PredicateRange:
		return "key >= ? AND key < ?", fmt.Sprintf("[%d,%d]", k, k+1)
	case PredicatePrefix:
		return "tag LIKE ?", fmt.Sprintf(`["k%08d-%%"]`, k)
	case PredicateLike:
		return "tag LIKE ?", fmt.Sprintf(`["%%%08d-%%"]`, k)
	}
	return "key = ?", fmt.Sprintf("[%d]", k)
}

// Tag is the tag of the row with key k (as tagSQL writes it).
func Tag(k int) string { return fmt.Sprintf("k%08d-", k) }

// Marker is the payload that identifies write seq.
func Marker(seq int64) string { return "w" + strconv.FormatInt(seq, 10) }

// ParseMarker returns the write a payload identifies.
func ParseMarker(s string) (int64, bool) {
	if len(s) < 2 || s[0] != 'w' {
		return 0, false
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	return n, err == nil && n >= 0
}
