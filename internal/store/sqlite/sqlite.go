// Package sqlite is Coffer's embedded storage engine: modernc.org/sqlite
// (pure Go, no cgo) in WAL mode with synchronous=FULL, so that a commit is
// on disk before the ledger acknowledges it. All writes go through one
// connection (SQLite has one writer anyway); reads use a pool of read-only
// connections that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coffer-pay/coffer/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure Open.
type Options struct {
	// Readers is the size of the read-only connection pool (default 4).
	Readers int
	// CacheMiB is SQLite's page cache per connection in MiB (default 64).
	CacheMiB int
	// Exclusive takes a lock file so that no other process can write the
	// database, and then keeps committed accounts in memory. `coffer serve`
	// sets it; read-only tools such as `coffer verify` do not.
	Exclusive bool
	// CachedAccounts bounds the in-memory account cache (default 200,000).
	CachedAccounts int
}

// Store is a store.Store on one SQLite file.
type Store struct {
	path   string
	writer *sql.DB
	reader *sql.DB

	prepMu sync.Mutex
	prep   map[string]*sql.Stmt // see prepared.go

	lock  *os.File      // held while Exclusive
	cache *accountCache // nil unless Exclusive

	// writeSlot admits one write transaction at a time (see Begin).
	writeSlot chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path. It does not migrate:
// call Migrate.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.CacheMiB <= 0 {
		opts.CacheMiB = 64
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	var lock *os.File
	var cache *accountCache
	if opts.Exclusive {
		var err error
		if lock, err = lockFile(path); err != nil {
			return nil, err
		}
		if opts.CachedAccounts <= 0 {
			opts.CachedAccounts = 200_000
		}
		cache = &accountCache{rows: map[int64]store.Account{}, max: opts.CachedAccounts}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", opts.CacheMiB*1024))
	q.Add("_pragma", "temp_store(MEMORY)")
	// A checkpoint runs inside the commit that crosses this many WAL pages
	// and fsyncs the database file; SQLite's default (1000) made one run
	// every few batches. 20000 pages (80 MB) amortise it.
	q.Add("_pragma", "wal_autocheckpoint(20000)")
	wq := cloneValues(q)
	wq.Set("_txlock", "immediate")
	writer, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	rq := cloneValues(q)
	rq.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	reader.SetMaxOpenConns(opts.Readers)
	reader.SetMaxIdleConns(opts.Readers)
	s := &Store{path: path, writer: writer, reader: reader, lock: lock, cache: cache, writeSlot: make(chan struct{}, 1)}
	// The writer creates the file and switches it to WAL before any reader.
	if err := writer.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, translate(err))
	}
	return s, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes both pools.
func (s *Store) Close() error {
	s.prepMu.Lock()
	for _, st := range s.prep {
		st.Close()
	}
	s.prep = nil
	s.prepMu.Unlock()
	err := errors.Join(s.writer.Close(), s.reader.Close())
	if s.lock != nil {
		s.lock.Close() // releases the flock
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return translate(err)
	}
	return nil
}

// Backup writes a consistent copy of the live database to dst using
// SQLite's VACUUM INTO, without stopping writers for longer than the copy.
func (s *Store) Backup(ctx context.Context, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup: %s already exists", dst)
	}
	if _, err := s.writer.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("backup: %w", translate(err))
	}
	return nil
}

// --- migrations ---

func knownMigrations() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// Migrate applies, in order and each in its own transaction, the embedded
// migrations the database has not seen.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", translate(err))
	}
	names, err := knownMigrations()
	if err != nil {
		return err
	}
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", name)
		}
		if err := s.applyMigration(ctx, version, name); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, version int, name string) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return translate(err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return translate(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMicro()); err != nil {
		return translate(err)
	}
	return translate(tx.Commit())
}

// SchemaVersion reports applied and known migrations.
func (s *Store) SchemaVersion(ctx context.Context) (applied, known int, err error) {
	names, err := knownMigrations()
	if err != nil {
		return 0, 0, err
	}
	err = s.reader.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return 0, len(names), nil
	}
	return applied, len(names), translate(err)
}

// --- error translation ---

// translate maps driver errors to store sentinels.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch code & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %v", store.ErrRetry, err)
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		case sqlite3.SQLITE_CONSTRAINT:
			if code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
				return fmt.Errorf("%w: %v", store.ErrConflict, err)
			}
		}
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// --- time and null helpers ---

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func ptrMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// placeholders returns "?,?,…" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
