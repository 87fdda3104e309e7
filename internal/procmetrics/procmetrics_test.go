package procmetrics

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape parses Write's output: metric (with labels) → value. It fails on
// a line that is not a comment or a sample, and on a sample whose metric
// has no TYPE line before it.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	var b strings.Builder
	Write(&b)
	out := map[string]float64{}
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			typed[strings.Fields(rest)[0]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("not a sample: %q", line)
		}
		base, _, _ := strings.Cut(name, "{")
		base = strings.TrimSuffix(strings.TrimSuffix(base, "_sum"), "_count")
		if !typed[base] {
			t.Fatalf("%s has no TYPE line", name)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out[name] = v
	}
	return out
}

// TestRuntimeMetrics checks the values against what the test made the
// process do: goroutines it parked, files it opened, memory it holds.
func TestRuntimeMetrics(t *testing.T) {
	before := scrape(t)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes", "go_threads", "go_gc_duration_seconds_count", `go_info{version="` + runtime.Version() + `"}`} {
		if _, ok := before[name]; !ok {
			t.Errorf("%s is missing", name)
		}
	}

	const parked = 200
	stop := make(chan struct{})
	for range parked {
		go func() { <-stop }()
	}
	defer close(stop)
	dir := t.TempDir()
	const files = 64
	for i := range files {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	hold := make([]byte, 64<<20)
	for i := range hold {
		hold[i] = byte(i) // touched, so resident
	}
	runtime.GC()
	after := scrape(t)
	if got := after["go_goroutines"]; got < before["go_goroutines"]+parked {
		t.Errorf("go_goroutines %v after parking %d more than the %v before", got, parked, before["go_goroutines"])
	}
	if got := after["go_gc_cycles_total"]; got < before["go_gc_cycles_total"]+1 {
		t.Errorf("go_gc_cycles_total %v after a GC; before %v", got, before["go_gc_cycles_total"])
	}
	if got := after["go_memstats_heap_alloc_bytes"]; got < float64(len(hold)) {
		t.Errorf("go_memstats_heap_alloc_bytes %v while holding %d bytes", got, len(hold))
	}
	if runtime.GOOS != "linux" {
		runtime.KeepAlive(hold)
		return
	}
	if got := after["process_open_fds"]; got < before["process_open_fds"]+files {
		t.Errorf("process_open_fds %v after opening %d files; before %v", got, files, before["process_open_fds"])
	}
	if got := after["process_resident_memory_bytes"]; got < float64(len(hold)) {
		t.Errorf("process_resident_memory_bytes %v while holding %d bytes", got, len(hold))
	}
	if after["process_max_fds"] < after["process_open_fds"] {
		t.Errorf("process_max_fds %v < process_open_fds %v", after["process_max_fds"], after["process_open_fds"])
	}
	start := time.Unix(int64(after["process_start_time_seconds"]), 0)
	if start.After(time.Now()) || time.Since(start) > 24*time.Hour {
		t.Errorf("process_start_time_seconds says the test started at %v", start)
	}
	if after["process_cpu_seconds_total"] <= 0 {
		t.Errorf("process_cpu_seconds_total %v", after["process_cpu_seconds_total"])
	}
	runtime.KeepAlive(hold)
}
