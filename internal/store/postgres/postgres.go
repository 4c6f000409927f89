// Package postgres is Coffer's PostgreSQL store engine. Several Coffer nodes
// may share one database: the ledger's consistency comes from row locks
// (SELECT … FOR UPDATE in ascending id order) inside READ COMMITTED
// transactions, not from process memory.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffer-pay/coffer/internal/store"
)

// DefaultMaxConns is the pool size when Options.MaxConns is 0.
const DefaultMaxConns = 16

// Options tunes the engine.
type Options struct {
	// MaxConns is the size of the connection pool; 0 means DefaultMaxConns.
	MaxConns int32
}

// Store is a store.Store on a PostgreSQL connection pool.
type Store struct {
	pool *pgxpool.Pool
	ids  idPool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string) and checks that it answers. It does not migrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The message may quote the DSN; pgx redacts the password.
		return nil, fmt.Errorf("postgres: parse dsn: %v", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		// Scan timestamptz as UTC rather than the process's local zone.
		c.TypeMap().RegisterType(&pgtype.Type{
			Name:  "timestamptz",
			OID:   pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate("postgres: open", err)
	}
	s := &Store{pool: pool}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes every connection of the pool, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return translate("postgres: ping", s.pool.Ping(ctx))
}

// Begin starts a READ COMMITTED transaction on one pooled connection.
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, translate("postgres: begin", err)
	}
	return &Tx{s: s, tx: tx, ctx: ctx}, nil
}
