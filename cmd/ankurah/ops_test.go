package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeOperations: --log-format json writes one JSON object a line,
// --pprof-addr serves the profiler on its own listener (loopback, no
// policy), /metrics has the runtime's and the process's metrics, and the
// inspector answers at /inspect.
func TestServeOperations(t *testing.T) {
	t.Parallel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, url, lines := startServeLog(t, "--data-dir", t.TempDir(), "--log-format", "json", "--pprof-addr", "127.0.0.1:0")
	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	var pprofURL string
	sawServing := false
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") {
			continue // the CLI's own notes ("ankurah: storing data in …")
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("a log line that is not JSON: %q", l)
		}
		switch rec["msg"] {
		case "profiler serving":
			pprofURL, _ = rec["pprof"].(string)
		case "ankurah serving":
			sawServing = rec["inspect"] == base+"/inspect/" && rec["level"] == "INFO"
		}
	}
	if pprofURL == "" || !sawServing {
		t.Fatalf("log lines:\n%s", strings.Join(lines, "\n"))
	}
	get := func(u string) string {
		t.Helper()
		res, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
		}
		return string(b)
	}
	if got := get(pprofURL + "goroutine?debug=1"); !strings.Contains(got, "goroutine profile:") {
		t.Errorf("the profiler: %.200s", got)
	}
	// Not on the main listener.
	res, err := client.Get(base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ on the main listener: %s", res.Status)
	}
	metrics := get(base + "/metrics")
	for _, m := range []string{"\ngo_goroutines ", "\ngo_memstats_heap_alloc_bytes ", "\ngo_gc_duration_seconds_count ", "\nprocess_resident_memory_bytes ", "\nprocess_open_fds "} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics has no%s", m)
		}
	}
	if got := get(base + "/inspect/api/server"); !strings.Contains(got, `"backend":"embedded"`) {
		t.Errorf("/inspect/api/server: %s", got)
	}
}
