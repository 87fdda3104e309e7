package procmetrics

import (
	"testing"

	"github.com/ankurah/ankurah-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
