//go:build unix

package lockfile

import (
	"errors"
	"os"
	"syscall"
)

var errHeld = errors.New("held by another process")

// lock takes an exclusive flock without blocking. flock locks belong to the
// open file description: a second open of the same file, even in the same
// process, is refused too.
func lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errHeld
		default:
			return err
		}
	}
}
