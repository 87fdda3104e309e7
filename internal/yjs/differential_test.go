package yjs

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	seedFlag   = flag.Uint64("yjs.seed", 0, "base seed of the differential test against yjs (0: from YJS_SEED, else random)")
	tracesFlag = flag.Int("yjs.traces", 1000, "random traces the differential test against yjs runs")
)

// oracleRequired is set (YJS_ORACLE=required, as make yjs-test does) where a
// missing node or yjs package must fail the test rather than skip it.
func oracleRequired() bool { return os.Getenv("YJS_ORACLE") == "required" }

// findYjs returns the directory holding node_modules/yjs, searching up from
// the package directory (npm workspaces install it at the repository root).
func findYjs() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "yjs", "package.json")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func diffSeed(t *testing.T) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv("YJS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("YJS_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano()) % (1 << 40)
}

// request is one line from the Node driver.
type request struct {
	ID     int    `json:"id"`
	Op     string `json:"op"`
	Doc    int    `json:"doc"`
	Client uint64 `json:"client"`
	GC     bool   `json:"gc"`
	Pos    int    `json:"pos"`
	N      int    `json:"n"`
	Text   string `json:"text"`
	Update string `json:"update"`
	SV     string `json:"sv"`

	// The final line.
	Done     bool `json:"done"`
	Traces   int  `json:"traces"`
	Steps    int  `json:"steps"`
	NonEmpty int  `json:"nonEmpty"`
	Failures []struct {
		Seed  uint64 `json:"seed"`
		Error string `json:"error"`
	} `json:"failures"`
}

type response struct {
	ID      int    `json:"id"`
	Error   string `json:"error,omitempty"`
	Text    string `json:"text"`
	SV      string `json:"sv"`
	Pending bool   `json:"pending"`
	Update  string `json:"update,omitempty"`
}

// TestDifferential runs random multi-replica editing traces where Go and Yjs
// documents exchange updates, state vectors, diffs and states, and requires
// the two implementations to agree at every step (see
// testdata/differential.mjs). A failure prints the trace's seed; replay it
// with YJS_SEED=<seed> go test ./internal/yjs -run TestDifferential
// -yjs.traces=1 -v.
func TestDifferential(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	root, haveYjs := findYjs()
	if err != nil || !haveYjs {
		msg := "node or node_modules/yjs not found (run npm ci at the repository root, or make yjs-test)"
		if oracleRequired() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	seed := diffSeed(t)
	t.Logf("base seed %d, %d traces, yjs from %s: replay with YJS_SEED=%d go test ./internal/yjs -run TestDifferential -v", seed, *tracesFlag, root, seed)

	script, err := filepath.Abs(filepath.Join("testdata", "differential.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, strconv.FormatUint(seed, 10), strconv.Itoa(*tracesFlag))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	final, served, serr := serveOracle(stdout, stdin)
	stdin.Close()
	werr := cmd.Wait()
	if stderr.Len() > 0 {
		t.Logf("node stderr:\n%s", stderr.String())
	}
	if serr != nil {
		t.Fatalf("after %d requests: %v (node: %v)", served, serr, werr)
	}
	if werr != nil {
		t.Fatalf("node: %v", werr)
	}
	for _, f := range final.Failures {
		t.Errorf("trace seed %d: %s\nreplay: YJS_SEED=%d go test ./internal/yjs -run TestDifferential -yjs.traces=1 -v", f.Seed, f.Error, f.Seed)
	}
	t.Logf("%d traces, %d steps, %d requests to Go, %d traces ended with text", final.Traces, final.Steps, served, final.NonEmpty)
	if final.Traces < *tracesFlag {
		t.Fatalf("ran %d traces, want %d", final.Traces, *tracesFlag)
	}
	if len(final.Failures) == 0 && final.NonEmpty < final.Traces/2 {
		t.Fatalf("only %d of %d traces ended with any text: the generator is degenerate", final.NonEmpty, final.Traces)
	}
}

// serveOracle answers the driver's requests on Go documents until its final
// line, which it returns.
func serveOracle(from io.Reader, to io.Writer) (final request, served int, err error) {
	docs := map[int]*Doc{}
	sc := bufio.NewScanner(from)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	w := bufio.NewWriter(to)
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return final, served, fmt.Errorf("bad line %q: %v", sc.Text(), err)
		}
		if req.Done {
			return req, served, nil
		}
		served++
		res := serveOne(docs, &req)
		b, err := json.Marshal(res)
		if err != nil {
			return final, served, err
		}
		w.Write(b)
		w.WriteByte('\n')
		if err := w.Flush(); err != nil {
			return final, served, err
		}
	}
	if err := sc.Err(); err != nil {
		return final, served, err
	}
	return final, served, fmt.Errorf("node ended without its final line")
}

func serveOne(docs map[int]*Doc, req *request) (res response) {
	res.ID = req.ID
	if req.Op == "reset" {
		clear(docs)
		return res
	}
	d := docs[req.Doc]
	if req.Op == "new" {
		d = NewDoc(Options{ClientID: req.Client, DisableGC: !req.GC})
		d.SetClientID(req.Client) // 0 too
		docs[req.Doc] = d
	}
	if d == nil {
		res.Error = fmt.Sprintf("no document %d", req.Doc)
		return res
	}
	b64 := base64.StdEncoding
	var out []byte
	var err error
	switch req.Op {
	case "new":
	case "apply":
		var u []byte
		if u, err = b64.DecodeString(req.Update); err == nil {
			err = d.ApplyUpdate(u)
		}
	case "insert":
		out, err = d.Insert(req.Pos, req.Text)
	case "delete":
		out, err = d.Delete(req.Pos, req.N)
	case "replace":
		out, err = d.ReplaceText(req.Text)
	case "state":
		out = d.EncodeStateAsUpdate()
	case "diff":
		var sv []byte
		if sv, err = b64.DecodeString(req.SV); err == nil {
			out, err = d.EncodeDiff(sv)
		}
	case "reload":
		var nd *Doc
		nd, err = Load(d.EncodeStateAsUpdate(), Options{ClientID: d.ClientID(), DisableGC: !d.gc})
		if err == nil {
			nd.SetClientID(d.ClientID())
			docs[req.Doc] = nd
			d = nd
		}
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.Update = b64.EncodeToString(out)
	res.Text = d.Text()
	res.SV = b64.EncodeToString(d.EncodeStateVector())
	res.Pending = d.Pending()
	return res
}
