// Package procmetrics writes the Go runtime's and the process's metrics in
// the Prometheus text format, under the names the Prometheus Go client
// uses (go_goroutines, go_memstats_heap_alloc_bytes,
// process_resident_memory_bytes, process_open_fds, …), so that the usual
// dashboards and alerts work on /metrics unchanged.
//
// It is written by hand, as the server's own metrics are: the Go client
// library would add about 4 MB and six modules to the binary for the same
// lines. Runtime values come from runtime/metrics, which (unlike
// runtime.ReadMemStats) does not stop the world; process values come from
// /proc on Linux and are left out elsewhere.
package procmetrics

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// samples are the runtime/metrics read for each scrape, by metric name.
var samples = []struct {
	key, name, help, typ string
}{
	{"/sched/goroutines:goroutines", "go_goroutines", "Number of goroutines that currently exist.", "gauge"},
	{"/sched/gomaxprocs:threads", "go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting.", "gauge"},
	{"/memory/classes/heap/objects:bytes", "go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects (live, and dead not yet swept).", "gauge"},
	{"/gc/heap/objects:objects", "go_memstats_heap_objects", "Number of allocated heap objects.", "gauge"},
	{"/gc/heap/allocs:bytes", "go_memstats_alloc_bytes_total", "Bytes allocated in the heap since the process started.", "counter"},
	{"/gc/heap/allocs:objects", "go_memstats_mallocs_total", "Heap objects allocated since the process started.", "counter"},
	{"/gc/heap/frees:objects", "go_memstats_frees_total", "Heap objects freed since the process started.", "counter"},
	{"/memory/classes/total:bytes", "go_memstats_sys_bytes", "Bytes of memory obtained from the operating system.", "gauge"},
	{"/gc/heap/goal:bytes", "go_memstats_next_gc_bytes", "Heap size target of the next garbage collection.", "gauge"},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", "Completed garbage collection cycles.", "counter"},
	{"/memory/classes/heap/released:bytes", "go_memstats_heap_released_bytes", "Heap bytes returned to the operating system.", "gauge"},
	{"/memory/classes/heap/stacks:bytes", "go_memstats_stack_inuse_bytes", "Bytes of goroutine stacks.", "gauge"},
}

// Write writes the runtime's and the process's metrics.
func Write(w io.Writer) {
	ms := make([]metrics.Sample, len(samples))
	for i := range samples {
		ms[i].Name = samples[i].key
	}
	metrics.Read(ms)
	for i, s := range samples {
		var v float64
		switch ms[i].Value.Kind() {
		case metrics.KindUint64:
			v = float64(ms[i].Value.Uint64())
		case metrics.KindFloat64:
			v = ms[i].Value.Float64()
		default:
			continue // not supported by this Go version
		}
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", s.name, s.help, s.name, s.typ, s.name, num(v))
	}
	fmt.Fprintf(w, "# HELP go_threads Number of OS threads created.\n# TYPE go_threads gauge\ngo_threads %d\n", pprof.Lookup("threadcreate").Count())
	fmt.Fprintf(w, "# HELP go_info Information about the Go environment.\n# TYPE go_info gauge\ngo_info{version=%q} 1\n", runtime.Version())

	// GC pauses as the Go client writes them: a summary of the recent
	// pauses' quantiles, with the count and total of all of them.
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	fmt.Fprintf(w, "# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.\n# TYPE go_gc_duration_seconds summary\n")
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		fmt.Fprintf(w, "go_gc_duration_seconds{quantile=%q} %s\n", q, num(gc.PauseQuantiles[i].Seconds()))
	}
	fmt.Fprintf(w, "go_gc_duration_seconds_sum %s\ngo_gc_duration_seconds_count %d\n", num(gc.PauseTotal.Seconds()), gc.NumGC)

	p, ok := readProcess()
	if !ok {
		return
	}
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, num(v))
	}
	fmt.Fprintf(w, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %s\n", num(p.cpuSeconds))
	gauge("process_resident_memory_bytes", "Resident memory size in bytes.", p.rss)
	gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.vsize)
	gauge("process_open_fds", "Number of open file descriptors.", p.openFDs)
	if p.maxFDs > 0 {
		gauge("process_max_fds", "Maximum number of open file descriptors.", p.maxFDs)
	}
	if p.startTime > 0 {
		gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", p.startTime)
	}
}

// process is what /proc tells of this process.
type process struct {
	cpuSeconds, rss, vsize, openFDs, maxFDs, startTime float64
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}
