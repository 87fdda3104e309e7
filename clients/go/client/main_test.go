package client

import (
	"testing"

	"github.com/ankurah/ankurah-go/internal/leakcheck"
)

// TestMain fails the package when goroutines outlive its tests: every
// client, live query and connection must end with Close.
func TestMain(m *testing.M) { leakcheck.Main(m) }
