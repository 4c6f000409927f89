package ledger

import (
	"errors"
	"fmt"

	"github.com/coffer-pay/coffer/internal/store"
)

// Kind classifies an error so that every surface can map it to its own wire
// format. The values never change.
type Kind int

const (
	KindInternal    Kind = iota // a bug or an unexpected database error
	KindInvalid                 // the request is malformed or breaks a rule
	KindNotFound                // a referenced object does not exist
	KindConflict                // idempotency key reused with another body, or a state conflict
	KindUnavailable             // the database cannot be reached; retry later
)

// Error is a ledger failure with a stable machine-readable code.
type Error struct {
	Kind    Kind
	Code    string // stable, snake_case
	Message string // human text, safe to show to a client
	Field   string // for idempotency conflicts: the field that differs
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is match on the code, so callers can test
// errors.Is(err, ledger.ErrInsufficientFunds).
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

func newErr(kind Kind, code, msg string) *Error { return &Error{Kind: kind, Code: code, Message: msg} }

// Sentinel errors, compared by code.
var (
	ErrInsufficientFunds  = newErr(KindInvalid, "insufficient_funds", "the account's balance (after holds) does not cover the amount")
	ErrExceedsCredits     = newErr(KindInvalid, "exceeds_limit", "the credit would take a debit-normal account past its limit")
	ErrAccountNotFound    = newErr(KindNotFound, "account_not_found", "account not found")
	ErrAssetMismatch      = newErr(KindInvalid, "asset_mismatch", "both accounts and the transfer must have the same asset")
	ErrSameAccount        = newErr(KindInvalid, "same_account", "debit and credit accounts must differ")
	ErrInvalidAmount      = newErr(KindInvalid, "invalid_amount", "amount must be a positive decimal within the asset's scale")
	ErrOverflow           = newErr(KindInvalid, "overflow", "the amount would overflow an account counter")
	ErrPendingNotFound    = newErr(KindNotFound, "pending_not_found", "pending transfer not found")
	ErrNotPending         = newErr(KindInvalid, "not_pending", "the referenced transfer is not a pending transfer")
	ErrPendingPosted      = newErr(KindConflict, "pending_already_posted", "the pending transfer was already posted")
	ErrPendingVoided      = newErr(KindConflict, "pending_already_voided", "the pending transfer was already voided")
	ErrPendingExpired     = newErr(KindConflict, "pending_expired", "the pending transfer expired")
	ErrPostExceedsPending = newErr(KindInvalid, "post_exceeds_pending", "cannot post more than the pending amount")
	ErrLinkedFailed       = newErr(KindInvalid, "linked_transfer_failed", "another transfer of the linked group failed")
	ErrIdempotency        = newErr(KindConflict, "idempotency_conflict", "the idempotency key was used with a different request")
	ErrForeignAccount     = newErr(KindNotFound, "account_not_found", "account not found")
	ErrInvalidRequest     = newErr(KindInvalid, "invalid_request", "invalid request")
	ErrAssetNotFound      = newErr(KindNotFound, "asset_not_found", "asset not found")
	ErrUnavailable        = newErr(KindUnavailable, "unavailable", "the database is unavailable; retry later")
	ErrShuttingDown       = newErr(KindUnavailable, "shutting_down", "the server is shutting down; retry")
	ErrInternal           = newErr(KindInternal, "internal", "internal error")
)

// invalid returns an invalid_request error with a specific message.
func invalid(format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_request", Message: fmt.Sprintf(format, args...)}
}

func withMsg(e *Error, format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// AsError converts any error into an *Error, mapping unknown errors to
// ErrInternal.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternal
}

// FromStore maps an error a domain package met reading or writing the
// store outside a ledger operation: store.ErrNotFound becomes notFound (if
// given), store.ErrUnavailable becomes ErrUnavailable, anything else is
// returned as it is.
func FromStore(err error, notFound *Error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound) && notFound != nil:
		return notFound
	case errors.Is(err, store.ErrUnavailable):
		return ErrUnavailable
	}
	return err
}
