package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffer-pay/coffer/internal/store"
)

// Unique constraints whose violation means a concurrent node inserted the
// same idempotency key first: the losing transaction should run again and
// will then find the winner's row.
var retryConstraints = map[string]bool{
	"idempotency_keys_pkey":  true,
	"accounts_merchant_ikey": true,
	"payments_txn":           true,
}

// translate turns a driver error into one that wraps a store sentinel (or a
// context error), prefixed by op. The driver error's text is kept but not
// wrapped, so that no caller can reach a pgx type through errors.As.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", op, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, context.DeadlineExceeded)
	case errors.As(err, &pgErr):
		if sentinel := classify(pgErr); sentinel != nil {
			return fmt.Errorf("%s: %w: %v", op, sentinel, err)
		}
	case lostConnection(err):
		return fmt.Errorf("%s: %w: %v", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %v", op, err)
}

// classify maps a server error to a sentinel, or nil if none fits.
// See https://www.postgresql.org/docs/current/errcodes-appendix.html.
func classify(e *pgconn.PgError) error {
	switch {
	case e.Code == "40001", // serialization_failure
		e.Code == "40P01", // deadlock_detected
		e.Code == "55P03": // lock_not_available
		return store.ErrRetry
	case e.Code == "23505": // unique_violation
		if retryConstraints[e.ConstraintName] {
			return store.ErrRetry
		}
		return store.ErrConflict
	case strings.HasPrefix(e.Code, "08"), // connection_exception
		strings.HasPrefix(e.Code, "53"), // insufficient_resources: disk full, out of memory, too many connections
		strings.HasPrefix(e.Code, "58"), // system_error: I/O error
		e.Code == "57P01",               // admin_shutdown
		e.Code == "57P02",               // crash_shutdown
		e.Code == "57P03",               // cannot_connect_now (starting up, recovering)
		e.Code == "25006":               // read_only_sql_transaction (a standby, or default_transaction_read_only)
		return store.ErrUnavailable
	}
	return nil
}

// lostConnection reports whether err is a failure to reach the server or a
// connection that broke, rather than a server-side error.
func lostConnection(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err)
}
