package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// OpenTest returns a migrated store on a fresh file in t.TempDir(), closed
// when the test ends.
func OpenTest(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{Readers: 2, CacheMiB: 8, Exclusive: true})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return s
}
