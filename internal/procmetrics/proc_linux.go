package procmetrics

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// readProcess reads /proc/self: stat (CPU time, memory, start), fd (open
// files) and the open files limit.
func readProcess() (process, bool) {
	var p process
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return p, false
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return p, false
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 22 {
		return p, false
	}
	field := func(n int) float64 { // n: the field's number in proc(5)
		v, _ := strconv.ParseFloat(f[n-3], 64)
		return v
	}
	p.cpuSeconds = (field(14) + field(15)) / clockTicks
	p.vsize = field(23)
	p.rss = field(24) * float64(os.Getpagesize())
	if boot := bootTime(); boot > 0 {
		p.startTime = boot + field(22)/clockTicks
	}
	if d, err := os.Open("/proc/self/fd"); err == nil {
		names, _ := d.Readdirnames(-1)
		d.Close()
		p.openFDs = float64(len(names))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		p.maxFDs = float64(lim.Cur)
	}
	return p, true
}

// bootTime is when the machine booted (btime in /proc/stat), in seconds
// since the epoch; 0 when unknown.
func bootTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}
