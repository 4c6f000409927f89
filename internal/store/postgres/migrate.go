package postgres

import (
	"context"
	"embed"
	"fmt"
	"github.com/jackc/pgx/v5"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migrations are numbered from 1 without gaps (0001_ledger.sql, …) and
// append-only: a released file is never edited; changes go in a new one.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	// fs.Glob returns names sorted, and the zero-padded prefixes sort numerically.
	ms := make([]migration, 0, len(names))
	for i, name := range names {
		base := path.Base(name)
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: want number %04d", base, i+1)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// migrateLock is the key of the advisory lock that serializes Migrate across
// processes ("coffer" in ASCII).
const migrateLock = 0x636f66666572

// Migrate applies, in one transaction, the embedded migrations the database
// lacks. Concurrent callers (several nodes starting at once) queue on an
// advisory lock, and all but the first then find nothing to do.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate("postgres: migrate", err)
	}
	defer tx.Rollback(context.Background()) // a no-op after Commit

	// The lock is released when the transaction ends.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
		return translate("postgres: migrate: lock", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version     INTEGER     PRIMARY KEY,
		applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return translate("postgres: migrate: create schema_migrations", err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return translate("postgres: migrate: read versions", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return translate("postgres: migrate: read versions", err)
	}
	done := map[int]bool{}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	for _, v := range versions {
		done[int(v)] = true
		if !known[int(v)] {
			return fmt.Errorf("postgres: migrate: database has migration %d, which this binary does not know: it is newer", v)
		}
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		// Without arguments pgx uses the simple protocol, which runs a
		// multi-statement script.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return translate("postgres: migrate: "+m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
			return translate("postgres: migrate: record "+m.name, err)
		}
	}
	return translate("postgres: migrate: commit", tx.Commit(ctx))
}

// SchemaVersion returns the number of migrations applied to the database and
// the number embedded in the binary.
func (s *Store) SchemaVersion(ctx context.Context) (applied, known int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, 0, translate("postgres: schema version", err)
	}
	if exists {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
			return 0, 0, translate("postgres: schema version", err)
		}
	}
	return applied, len(ms), nil
}
