package postgres

// Test helpers, for this package's tests and for other packages' tests that
// need a PostgreSQL store (like sqlite.OpenTest). Each test gets a fresh
// database on the server named by $COFFER_TEST_POSTGRES, dropped when the
// test ends. Without that variable the tests are skipped, so that
// `go test ./...` passes on a machine with no PostgreSQL.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestEnvVar names the variable holding the DSN of a server where tests may
// create and drop databases, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const TestEnvVar = "COFFER_TEST_POSTGRES"

// OpenTest returns a migrated store on a new database, closed and dropped
// when the test ends.
func OpenTest(t testing.TB) *Store {
	t.Helper()
	dsn := NewTestDatabase(t)
	s, err := Open(context.Background(), dsn, Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	// Cleanups run last-in first-out: this one before the drop.
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return s
}

// NewTestDatabase creates an empty database, dropped when the test ends, and
// returns its DSN. It skips the test if $COFFER_TEST_POSTGRES is not set.
func NewTestDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(TestEnvVar)
	if admin == "" {
		t.Skip(TestEnvVar + " not set: skipping PostgreSQL test")
	}
	name := "coffer_test_" + randomHex(8)
	execAdmin(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		// FORCE ends connections a failed test may have left open.
		execAdmin(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("%s: %v", TestEnvVar, err)
	}
	return dsn
}

// execAdmin runs one statement on a short-lived connection to the admin DSN.
func execAdmin(t testing.TB, dsn, sql string) {
	t.Helper()
	// Not t.Context(): it is cancelled before cleanups run.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", TestEnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// Keyword/value form: a later setting overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b)
}
