//go:build !linux

package procmetrics

// readProcess: process metrics are read from /proc, on Linux only.
func readProcess() (process, bool) { return process{}, false }
