package postgres_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/storage/storagetest"
	"github.com/ankurah/ankurah-go/test/pgtest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return postgres.New(pgtest.Pool(t, pgtest.NewDatabase(t)), postgres.Options{})
	})
}
