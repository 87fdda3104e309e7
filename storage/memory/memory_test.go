package memory_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/internal/storagetest"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return memory.New() })
}
