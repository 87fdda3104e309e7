package postgres_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/internal/storagetest"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return postgres.New(pgtest.Pool(t, pgtest.NewDatabase(t)), postgres.Options{})
	})
}
