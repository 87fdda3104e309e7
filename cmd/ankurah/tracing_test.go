package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP trace receiver: it keeps the spans it is sent.
type collector struct {
	mu      sync.Mutex
	spans   map[string][]string // span name → trace ids (hex)
	service string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				c.service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans[s.Name] = append(c.spans[s.Name], hexID(s.TraceId))
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(b)
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

// TestServeTracing: serve --otlp-endpoint sends a commit's spans — the
// request and the change's way through the fan-out — to an OTLP/HTTP
// collector, and the request's debug log line carries the same trace id.
func TestServeTracing(t *testing.T) {
	t.Parallel()
	col := &collector{spans: map[string][]string{}}
	otlp := httptest.NewServer(col)
	defer otlp.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(os.Args[0], "serve", "--listen", addr, "--data-dir", t.TempDir(), "--log-format", "json", "--log-level", "debug", "--otlp-endpoint", otlp.URL)
	cmd.Env = append(os.Environ(), "ANKURAH_TEST_MAIN=1", "ANKURAH_DATABASE_URL=", "OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_SERVICE_NAME=")
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("serve did not start:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	url := "ws://" + addr + "/ws"
	cli(t, "put", "--url", url, "album", `{"name":"Showbiz","year":1999}`)
	// A graceful stop sends what is buffered.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	if col.service != "ankurah" {
		t.Errorf("service.name %q", col.service)
	}
	// The commit that stored the album (put may first be told to create
	// the collection) has the change in its trace.
	var trace string
	for _, c := range col.spans["ankurah.commit"] {
		for _, id := range col.spans["ankurah.change"] {
			if id == c {
				trace = c
			}
		}
	}
	if trace == "" {
		t.Fatalf("no commit span with the change in its trace: %v", col.spans)
	}
	for _, name := range []string{"ankurah.match", "ankurah.queue"} {
		found := false
		for _, id := range col.spans[name] {
			found = found || id == trace
		}
		if !found {
			t.Errorf("no %s span in the commit's trace %s: %v", name, trace, col.spans)
		}
	}
	// The log line of the commit request names its trace.
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "request" && rec["type"] == "commit" && rec["trace_id"] == trace {
			if id, _ := rec["span_id"].(string); len(id) != 16 {
				t.Errorf("the commit's log line: %s", sc.Text())
			}
			return
		}
	}
	t.Errorf("no debug line for the commit request in:\n%s", strings.Join(lines, "\n"))
}
