// Package backends runs a test on every storage engine Coffer has: SQLite
// always, PostgreSQL when COFFER_TEST_POSTGRES names a server (else that
// subtest says it skipped).
package backends

import (
	"testing"

	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

// Each runs fn once per engine, each time on a fresh, migrated database.
func Each(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, sqlite.OpenTest(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t)) })
}
