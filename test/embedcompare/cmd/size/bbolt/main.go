// Command bbolt links the memory store and kvstore over bbolt.
package main

import (
	"path/filepath"

	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/test/embedcompare/cmd/size"
	"github.com/ankurah/ankurah-go/test/embedcompare/kvstore/boltkv"
)

func main() {
	size.Run(func(dir string) (storage.Store, error) { return boltkv.Open(filepath.Join(dir, "store.bolt"), false) })
}
