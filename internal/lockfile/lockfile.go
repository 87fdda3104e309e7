// Package lockfile keeps a folder for one process at a time: an exclusive
// lock on a file in it, held for as long as the process keeps the file
// open, with a line saying who holds it.
//
// It exists because two servers on one embedded data folder would both run:
// SQLite lets several processes share the file, but each server's live
// queries see only its own commits, so the subscribers of one never hear of
// the other's writes. The lock is flock(2): the kernel releases it when its
// holder exits, however it exits, so a server killed with SIGKILL or a
// machine that lost power leaves nothing stuck — only a stale description
// line, which the next holder overwrites.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// HeldError says that another process holds the lock, and who it says it is.
type HeldError struct {
	Path string
	// Holder is the holder's description line, as it wrote it (empty when
	// it has not written it yet).
	Holder string
}

func (e *HeldError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("%s is locked by another process", e.Path)
	}
	return fmt.Sprintf("%s is locked by %s", e.Path, e.Holder)
}

// Acquire takes the lock on path (creating the file), without waiting: when
// another process holds it, it returns a *HeldError.
func Acquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		if errors.Is(err, errHeld) {
			holder, _ := os.ReadFile(path)
			return nil, &HeldError{Path: path, Holder: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Describe replaces the holder's description (one line: who holds the lock,
// e.g. its process id and address) that a refused Acquire reports.
func (l *Lock) Describe(holder string) error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(strings.ReplaceAll(holder, "\n", " ")+"\n"), 0)
	return err
}

// Release gives the lock up. The file stays (removing it would let a
// process that opened it before the removal lock a file nobody else sees).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
