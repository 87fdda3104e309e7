//go:build !unix

package lockfile

import (
	"errors"
	"os"
)

var errHeld = errors.New("held by another process")

// lock is not implemented outside Unix: the folder is not protected there
// (Ankurah's supported platforms are Unix; see docs/cli.md).
func lock(*os.File) error { return nil }
