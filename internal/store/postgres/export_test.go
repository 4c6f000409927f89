package postgres

import (
	"context"

	"github.com/coffer-pay/coffer/internal/store"
)

// Terminate ends the server process of tx's connection, as an administrator
// or a failover would, and waits until it is gone.
func Terminate(ctx context.Context, s *Store, tx store.Tx) error {
	pid := tx.(*Tx).tx.Conn().PgConn().PID()
	_, err := s.pool.Exec(ctx, `SELECT pg_terminate_backend($1, 5000)`, int64(pid))
	return err
}
