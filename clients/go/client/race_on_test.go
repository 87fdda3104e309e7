//go:build race

package client

// raceEnabled: the race detector is on (go test -race); the heaviest tests
// run smaller, since it slows them down several times over.
const raceEnabled = true
