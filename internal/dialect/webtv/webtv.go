// Package webtv speaks the ws.webtv store API's add_payment
// (seeds/003, DIALECTS.md §4, WIRE-NOTES §3):
//
//	api.php?go=store&do=add_payment&iq={user id}&key=…&timestamp=…&salt=…&signature=…
//	POST amount (decimal), description (optional)
//
// It adds one payment to the user's current order (docs/orders.md). The
// choices made where the original is silent are in README.md.
package webtv

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/dialect"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/order"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Path is the API's path.
const Path = "/api.php"

// Deps are what the dialect calls.
type Deps struct {
	Merchants *merchant.Service
	Orders    *order.Service
	Logger    *slog.Logger
	Now       func() time.Time // nil: time.Now
}

// apiError is the error answer {"error":…,"error_long":…}.
type apiError struct{ code, long string }

func (e *apiError) Error() string  { return e.code + ": " + e.long }
func (e *apiError) Expected() bool { return true }

func reqErr(long string) *apiError { return &apiError{"REQUEST_ERROR", long} }

var (
	errNoSignature = reqErr("Missing signature")
	errNoKey       = reqErr("Missing key")
	errNoTimestamp = reqErr("Missing timestamp")
	errNoSalt      = reqErr("Missing salt")
	errBadKey      = reqErr("Invalid key")
	errBadSig      = reqErr("Invalid signature")
	errBadTime     = reqErr("Invalid timestamp")
	errExpired     = reqErr("Request expired")
	errReplay      = reqErr("Request already received")
	errDisabled    = reqErr("API access is disabled")
	errSection     = reqErr("Invalid section")
	errAction      = reqErr("Invalid action")
	errUser        = reqErr("Invalid User ID")
	errAmount      = reqErr("Invalid amount")
	errNoOrder     = &apiError{"ERROR_NO_ORDER", "User does not have any current order"}
	errTooBig      = &apiError{"ERROR_AMOUNT_TOO_BIG", "Amount can't be higher than order amount due"}
	errInternal    = &apiError{"ERROR", "Internal error"}
)

type handler struct {
	Deps
	seen *replay
}

// NewHandler serves api.php.
func NewHandler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &handler{Deps: d, seen: &replay{m: map[string]time.Time{}}}
	return dialect.Handler(d.Logger, "webtv", fail, h.serve)
}

// fail answers {"error":…,"error_long":…} with HTTP 200, as the PHP API
// does (the seed's client reads the body whatever the status).
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal
	}
	writeJSON(w, map[string]string{"error": ae.code, "error_long": ae.long})
}

// OnPanic answers a panic outside the handler in the API's format.
func OnPanic(w http.ResponseWriter, r *http.Request) { fail(w, r, dialect.ErrInternal) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) error {
	p, err := dialect.Parse(r, dialect.ParseOptions{})
	if err != nil {
		return reqErr("The request could not be read")
	}
	// The signing block is common to every request: check it first.
	q := r.URL.Query()
	key, ts, salt, sig := q.Get("key"), q.Get("timestamp"), q.Get("salt"), q.Get("signature")
	switch {
	case sig == "":
		return errNoSignature
	case key == "":
		return errNoKey
	case ts == "":
		return errNoTimestamp
	case salt == "":
		return errNoSalt
	}
	stamp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errBadTime
	}
	gw, secret, err := h.Merchants.WebTVKey(r.Context(), key)
	if errors.Is(err, merchant.ErrUnknownKey) {
		return errBadKey
	} else if err != nil {
		return err
	}
	if !gw.Open {
		return errDisabled
	}
	if !Verify(gw.WebTV.SignatureMode, secret.Reveal(), salt, ts, sig) {
		return errBadSig
	}
	window := time.Duration(gw.WebTV.ExpirationSeconds) * time.Second
	if window <= 0 {
		window = 5 * time.Minute
	}
	now := h.Now()
	at := time.Unix(stamp, 0)
	if at.Before(now.Add(-window)) || at.After(now.Add(window)) {
		return errExpired
	}
	if !h.seen.first(key+"\x00"+salt+"\x00"+ts, now, at.Add(window)) {
		return errReplay
	}
	if q.Get("go") != "store" {
		return errSection
	}
	if q.Get("do") != "add_payment" {
		return errAction
	}
	return h.addPayment(w, r, gw.MerchantID, q.Get("iq"), p)
}

// addPayment: "Adding a payment transaction to the current order."
func (h *handler) addPayment(w http.ResponseWriter, r *http.Request, merchantID int64, iq string, p *dialect.Params) error {
	// "Invalid User ID: the User ID is not numeric or is less than 1."
	uid, err := strconv.ParseInt(iq, 10, 64)
	if err != nil || uid < 1 {
		return errUser
	}
	// "Invalid amount: not given, or less than or equal to 0."
	amount := strings.TrimSpace(p.Last("amount"))
	if amount == "" || strings.Trim(amount, "0123456789.") != "" {
		return errAmount
	}
	meta, _ := json.Marshal(map[string]string{"source": "webtv", "description": p.Last("description")})
	_, err = h.Orders.Pay(r.Context(), order.PayParams{MerchantID: merchantID, CustomerID: uid, Amount: amount, Strict: true, Meta: meta})
	switch {
	case err == nil:
		writeJSON(w, map[string]string{"ok": "Payment was added"})
		return nil
	case errors.Is(err, order.ErrNoCurrentOrder), errors.Is(err, wallet.ErrCustomerNotFound),
		errors.Is(err, order.ErrAlreadyPaid), errors.Is(err, order.ErrExpired), errors.Is(err, order.ErrCancelled):
		// A concurrent payment that completed or closed the order leaves
		// the user without a current order.
		return errNoOrder
	case errors.Is(err, order.ErrAmountTooBig):
		return errTooBig
	}
	var le *ledger.Error
	if errors.As(err, &le) && le.Kind == ledger.KindInvalid {
		return errAmount // more decimals than the order's currency has
	}
	return err
}

// Sign computes a request signature: mode "hmac" is
// base64(HMAC-SHA256(secret, salt.timestamp)), mode "md5" is
// md5(salt-timestamp-secret) in lower-case hex. The secret is used as the
// text shown, never decoded.
func Sign(mode, secret, salt, timestamp string) string {
	if mode == "md5" {
		sum := md5.Sum([]byte(salt + "-" + timestamp + "-" + secret))
		return hex.EncodeToString(sum[:])
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(salt + timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify compares a presented signature in constant time (md5 hex
// case-insensitively).
func Verify(mode, secret, salt, timestamp, presented string) bool {
	want := Sign(mode, secret, salt, timestamp)
	if mode == "md5" {
		presented = strings.ToLower(presented)
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(presented)) == 1
}

// replay remembers the (key, salt, timestamp) of accepted requests until
// their timestamp leaves the window. In memory: one process; several
// nodes would need a shared table (README.md).
type replay struct {
	mu    sync.Mutex
	m     map[string]time.Time
	clean time.Time
}

func (s *replay) first(k string, now, until time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.clean) > time.Minute {
		for k, t := range s.m {
			if now.After(t) {
				delete(s.m, k)
			}
		}
		s.clean = now
	}
	if t, ok := s.m[k]; ok && !now.After(t) {
		return false
	}
	s.m[k] = until
	return true
}
