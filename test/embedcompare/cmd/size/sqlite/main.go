// Command sqlite links the memory store and storage/sqlite.
package main

import (
	"path/filepath"

	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/sqlite"
	"github.com/ankurah/ankurah-go/test/embedcompare/cmd/size"
)

func main() {
	size.Run(func(dir string) (storage.Store, error) {
		return sqlite.Open(filepath.Join(dir, "store.db"), sqlite.Options{})
	})
}
