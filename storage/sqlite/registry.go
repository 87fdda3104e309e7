package sqlite

import (
	"fmt"
	"os"
	"slices"
	"sync"
)

// The files this process has open. Two Stores on one file would each keep a
// catalog cache and a writer connection, and their commits would wait on
// each other through SQLite's busy-polling rather than a Go mutex; that is
// always a mistake, so Open refuses it (ErrAlreadyOpen).
//
// Files are compared by identity (os.SameFile), so a relative path, a
// symlink or a hard link to an open file is caught too. The file is only
// ever stat'ed here, never opened: closing any descriptor of the database
// file would drop SQLite's POSIX locks on it.
var registry struct {
	sync.Mutex
	open []*registration
}

type registration struct {
	path string
	info os.FileInfo // nil if the file could not be stat'ed after opening
}

// register runs open for path unless the file is open already, and records
// it when open succeeds. The registry stays locked meanwhile, so concurrent
// Opens of a file that does not exist yet cannot both create it.
func register(path string, open func() error) (*registration, error) {
	registry.Lock()
	defer registry.Unlock()
	before, _ := os.Stat(path)
	for _, r := range registry.open {
		if r.path == path || before != nil && r.info != nil && os.SameFile(r.info, before) {
			return nil, fmt.Errorf("%w: %s", ErrAlreadyOpen, path)
		}
	}
	if err := open(); err != nil {
		return nil, err
	}
	info, _ := os.Stat(path)
	r := &registration{path: path, info: info}
	registry.open = append(registry.open, r)
	return r, nil
}

// release forgets the registration: the file may be opened again.
func (r *registration) release() {
	registry.Lock()
	defer registry.Unlock()
	registry.open = slices.DeleteFunc(registry.open, func(o *registration) bool { return o == r })
}
