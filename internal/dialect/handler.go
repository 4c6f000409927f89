package dialect

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/coffer-pay/coffer/internal/ledger"
)

// HandlerFunc is a dialect endpoint: it answers success itself and returns
// any failure for the dialect's Fail function to shape.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// FailFunc writes err in the dialect's own format and status. It receives
// whatever a handler returned (its own error types, *ledger.Error, or an
// unexpected error) and ErrInternal for panics.
type FailFunc func(w http.ResponseWriter, r *http.Request, err error)

// ErrInternal stands for an unexpected failure (a panic, a database error)
// when a dialect's FailFunc is asked to answer it.
var ErrInternal = errors.New("internal error")

// Handler makes an http.Handler of h that always answers in the dialect's
// format: h's errors go to fail; a panic is logged with its stack and
// answered as ErrInternal; unexpected errors are logged once, here, and
// reach fail as themselves (fail decides what the client sees — never the
// internal text).
func Handler(log *slog.Logger, dialectName string, fail FailFunc, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic in dialect handler", "dialect", dialectName, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				fail(w, r, ErrInternal)
			}
		}()
		if err := h(w, r); err != nil {
			if Unexpected(err) {
				log.Error("dialect request failed", "dialect", dialectName, "path", r.URL.Path, "err", err)
			}
			fail(w, r, err)
		}
	})
}

// Expected marks an error a dialect anticipates (bad input, wrong key…):
// it is answered without being logged as a failure.
type Expected interface{ Expected() bool }

// Unexpected reports whether err is neither a dialect's expected error nor
// a ledger business failure — that is, whether it deserves a log line.
func Unexpected(err error) bool {
	var ex Expected
	if errors.As(err, &ex) && ex.Expected() {
		return false
	}
	var le *ledger.Error
	if errors.As(err, &le) {
		return le.Kind == ledger.KindInternal || le.Kind == ledger.KindUnavailable
	}
	return true
}
