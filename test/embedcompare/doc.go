// Package embedcompare measures the embedded SQLite store (storage/sqlite)
// against minimal adapters over bbolt and Pebble (package kvstore) on the
// same work: see bench_test.go and docs/embedded-store.md. It is a module of
// its own so that the main module does not depend on bbolt or Pebble; build
// and run it with CGO_ENABLED=0 (Pebble links a cgo zstd otherwise).
package embedcompare
