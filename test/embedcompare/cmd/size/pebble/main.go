// Command pebble links the memory store and kvstore over Pebble.
package main

import (
	"path/filepath"

	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/test/embedcompare/cmd/size"
	"github.com/ankurah/ankurah-go/test/embedcompare/kvstore/pebblekv"
)

func main() {
	size.Run(func(dir string) (storage.Store, error) { return pebblekv.Open(filepath.Join(dir, "pebble"), false) })
}
