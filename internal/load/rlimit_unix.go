//go:build unix

package load

import "syscall"

// raiseFileLimit raises the soft limit on open files to the hard limit: a
// run holds two sockets per connection when the clients share the process.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
