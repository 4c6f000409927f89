package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

func TestFail(t *testing.T) {
	secret := errors.New("pq: relation secret_table does not exist")
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
		logged     bool
	}{
		{"ledger invalid", ledger.ErrInsufficientFunds, 422, "insufficient_funds", "", false},
		{"ledger not found", ledger.ErrAccountNotFound, 404, "account_not_found", "", false},
		{"ledger conflict", ledger.ErrPendingVoided, 409, "pending_already_voided", "", false},
		{"ledger unavailable", ledger.ErrUnavailable, 503, "unavailable", "1", true},
		{"ledger internal", ledger.ErrInternal, 500, "internal", "", true},
		{"wrapped ledger error", fmt.Errorf("x: %w", ledger.ErrSameAccount), 422, "same_account", "", false},
		{"store unavailable", fmt.Errorf("read: %w", store.ErrUnavailable), 503, "unavailable", "1", true},
		{"deadline", context.DeadlineExceeded, 503, "timeout", "1", true},
		{"body too large", &http.MaxBytesError{Limit: 10}, 413, "body_too_large", "", false},
		{"unknown error", secret, 500, "internal", "", true},
		{"api error", invalidField("x", "bad x"), 422, "invalid_request", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := &handler{log: slog.New(slog.NewTextHandler(&logs, nil))}
			w := httptest.NewRecorder()
			h.fail(w, httptest.NewRequest("GET", "/coffer/v1/x", nil), tt.err)
			var b errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || b.Error.Code != tt.code || w.Header().Get("Retry-After") != tt.retryAfter {
				t.Errorf("= %d %s Retry-After %q, want %d %s %q", w.Code, b.Error.Code, w.Header().Get("Retry-After"), tt.status, tt.code, tt.retryAfter)
			}
			if tt.status == 500 && b.Error.Message != "internal error" {
				t.Errorf("500 message = %q, want only \"internal error\"", b.Error.Message)
			}
			if strings.Contains(w.Body.String(), "secret_table") {
				t.Errorf("answer leaks the internal error: %s", w.Body)
			}
			if got := logs.Len() > 0; got != tt.logged {
				t.Errorf("logged = %v (%s), want %v", got, logs.String(), tt.logged)
			}
			if tt.name == "unknown error" && !strings.Contains(logs.String(), "secret_table") {
				t.Errorf("the internal error is not logged: %s", logs.String())
			}
		})
	}
}

// FuzzTransferInput feeds arbitrary bodies to the transfer decoder and the
// amount parser: they must never panic, and an accepted amount must be the
// exact value of its text.
func FuzzTransferInput(f *testing.F) {
	f.Add(`{"key":"k","debit_account_id":1,"credit_account_id":2,"asset":"USD","amount":"12.50"}`)
	f.Add(`{"amount":12.50}`)
	f.Add(`{"amount":1e2}`)
	f.Add(`{"amount":-0.0}`)
	f.Add(`{"amount":"99999999999999999.99"}`)
	f.Add(`{"amount":true,"metadata":{"a":[1,2]}}`)
	f.Add(`{"transfers":[{}]}`)
	f.Add(`{"amount":"1"} x`)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/coffer/v1/transfers", strings.NewReader(body))
		var in transferInput
		if err := decode(httptest.NewRecorder(), r, maxBody, &in); err != nil {
			if ae := classify(err); ae.Status != 400 && ae.Status != 413 {
				t.Fatalf("decode error %v maps to %d", err, ae.Status)
			}
			return
		}
		for _, scale := range []int{0, 2, 18} {
			v, aerr := parseAmount("amount", in.Amount, assetScale{Code: "X", Scale: scale})
			if aerr != nil {
				if aerr.Status != 422 || aerr.Code != "invalid_amount" {
					t.Fatalf("amount error = %+v", aerr)
				}
				continue
			}
			if v <= 0 {
				t.Fatalf("accepted amount %q as %d", in.Amount, v)
			}
			// Formatting and parsing again gives the same value.
			back, aerr := parseAmount("amount", amountText(money.Format(v, scale)), assetScale{Scale: scale})
			if aerr != nil || back != v {
				t.Fatalf("amount %q = %d does not round-trip (%d, %v)", in.Amount, v, back, aerr)
			}
		}
	})
}
