package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffer-pay/coffer/internal/store"
)

func TestTranslate(t *testing.T) {
	pgErr := func(code, constraint string) error {
		return fmt.Errorf("query: %w", &pgconn.PgError{Severity: "ERROR", Code: code, ConstraintName: constraint})
	}
	tests := []struct {
		name string
		err  error
		want error // nil: no sentinel
	}{
		{"no rows", pgx.ErrNoRows, store.ErrNotFound},
		{"serialization failure", pgErr("40001", ""), store.ErrRetry},
		{"deadlock", pgErr("40P01", ""), store.ErrRetry},
		{"idempotency key taken", pgErr("23505", "idempotency_keys_pkey"), store.ErrRetry},
		{"account key taken", pgErr("23505", "accounts_merchant_ikey"), store.ErrRetry},
		{"other unique violation", pgErr("23505", "api_keys_prefix_key"), store.ErrConflict},
		{"admin shutdown", pgErr("57P01", ""), store.ErrUnavailable},
		{"read only", pgErr("25006", ""), store.ErrUnavailable},
		{"disk full", pgErr("53100", ""), store.ErrUnavailable},
		{"connection failure", pgErr("08006", ""), store.ErrUnavailable},
		{"broken connection", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), store.ErrUnavailable},
		{"closed connection", pgconn.ErrConnClosed, store.ErrUnavailable},
		{"cancelled", fmt.Errorf("timeout: %w", context.Canceled), context.Canceled},
		{"deadline", fmt.Errorf("timeout: %w", context.DeadlineExceeded), context.DeadlineExceeded},
		{"check violation", pgErr("23514", "transfers_amount_check"), nil},
	}
	sentinels := []error{store.ErrNotFound, store.ErrConflict, store.ErrRetry, store.ErrUnavailable, context.Canceled, context.DeadlineExceeded}
	for _, tt := range tests {
		got := translate("op", tt.err)
		for _, s := range sentinels {
			if is, want := errors.Is(got, s), s == tt.want; is != want {
				t.Errorf("%s: errors.Is(%v, %v) = %t, want %t", tt.name, got, s, is, want)
			}
		}
		var pe *pgconn.PgError
		if errors.As(got, &pe) {
			t.Errorf("%s: translate(%v) still exposes *pgconn.PgError", tt.name, tt.err)
		}
	}
	if translate("op", nil) != nil {
		t.Errorf("translate(nil) != nil")
	}
}
