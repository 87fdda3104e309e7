package server_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/test/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
