package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
)

// apiError is an error with its HTTP answer. Message is sent to the client;
// Err, if set, is the internal cause, logged and never sent.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Err     error
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.Err }

// invalidField is a 422 invalid_request about one request field.
func invalidField(field, msg string) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_request", Message: msg, Field: field}
}

func notFound(code, msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: code, Message: msg}
}

// wireError is the error object of every failed answer:
// {"error":{"code":"…","message":"…","field":"…"}}.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

type errorBody struct {
	Error wireError `json:"error"`
}

// retryAfterSeconds is the Retry-After sent with 503 answers.
const retryAfterSeconds = 1

// classify turns any error into the answer to send. It is the only place
// that knows how errors map to statuses.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: "the request body is larger than " + strconv.FormatInt(mb.Limit, 10) + " bytes"}
	}
	var le *ledger.Error
	if errors.As(err, &le) {
		return fromLedger(le)
	}
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return fromLedger(ledger.ErrUnavailable)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "timeout",
			Message: "the request did not finish in time; a transfer may still commit: look up its outcome by key", Err: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Err: err}
}

// fromLedger maps a ledger error by its kind.
func fromLedger(le *ledger.Error) *apiError {
	e := &apiError{Code: le.Code, Message: le.Message, Field: le.Field}
	switch le.Kind {
	case ledger.KindInvalid:
		e.Status = http.StatusUnprocessableEntity
	case ledger.KindNotFound:
		e.Status = http.StatusNotFound
	case ledger.KindConflict:
		e.Status = http.StatusConflict
	case ledger.KindUnavailable:
		e.Status = http.StatusServiceUnavailable
	default:
		e.Status = http.StatusInternalServerError
		e.Code, e.Message, e.Field, e.Err = "internal", "internal error", "", le
	}
	return e
}

// fail writes err as the JSON error answer, logging it once if it is the
// server's fault.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	switch {
	case e.Status >= 500 && e.Status != http.StatusServiceUnavailable:
		h.log.ErrorContext(r.Context(), "native api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	case e.Status == http.StatusServiceUnavailable:
		h.log.WarnContext(r.Context(), "native api: unavailable", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err)
	}
	switch e.Status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="coffer"`)
	}
	writeJSON(w, e.Status, errorBody{Error: wireError{Code: e.Code, Message: e.Message, Field: e.Field}})
}

// writeJSON sends v with status. Encoding our own wire types cannot fail.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeEncodingFailed(w)
		return
	}
	writeBody(w, status, append(b, '\n'))
}

// writeEncodingFailed answers in place of an answer that could not be
// encoded.
func writeEncodingFailed(w http.ResponseWriter) {
	writeBody(w, http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`+"\n"))
}

// Header values shared by every answer; net/http only reads them.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
)

// writeBody sends b, a JSON document with its final newline, with status.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	hd["Cache-Control"] = hdrNoStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
