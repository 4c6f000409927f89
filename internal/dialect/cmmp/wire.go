package cmmp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Messages. The first three are the document's; "Wallet is inactive" and
// "Wallet does not exists" (sic) are the base plugin's; the others are
// Coffer's, in the same shape, where the add-on's own texts are not public
// (README.md lists every answer).
const (
	MsgNotEnough    = "Wallet doesn't have enough points"
	MsgMissingArgs  = "Please provide wallet id or email and points"
	MsgMissingKey   = "Please provide a secure key"
	MsgInactive     = "Wallet is inactive"
	MsgNoWallet     = "Wallet does not exists"
	MsgWrongKey     = "Invalid secure key"
	MsgClosed       = "External API gateway is closed"
	MsgNoUser       = "User with this email does not exist"
	MsgPointsNaN    = "Points must be a number"
	MsgPointsZero   = "Points must not be 0"
	MsgPointsPos    = "Points must be greater than 0"
	MsgMissingName  = "Please provide a wallet name"
	MsgMissingEmail = "Please provide an email"
	MsgBadRequest   = "The request could not be read"
	MsgInternal     = "Internal error, please try again later"
	MsgUnavailable  = "The service is unavailable, please try again later"
	// External wallet mode (this site uses another site's wallets).
	MsgExternalDown  = "The external wallet site cannot be reached, please try again later"
	MsgChargeOnMain  = "This site uses an external wallet: charge points on the main site"
	MsgMirrorProblem = "The wallet of the main site cannot be used here"
)

// msgDecimals and msgRange depend on the merchant's points scale.
func msgDecimals(scale int) string {
	if scale == 0 {
		return "Points must be a whole number"
	}
	return fmt.Sprintf("Points can have at most %d decimals", scale)
}

func msgRange(scale int) string {
	max := "9999999999"
	if scale > 0 {
		max += "." + string(bytes.Repeat([]byte{'9'}, scale))
	}
	return "Points are out of range: at most " + max
}

// Failure is an answer {"success":false,"message":[…]}. Err, if set, is an
// unexpected cause: logged, never sent.
type Failure struct {
	Messages []string
	Err      error
}

func fail1(msg string) *Failure { return &Failure{Messages: []string{msg}} }

func (f *Failure) Error() string {
	s := fmt.Sprint(f.Messages)
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

func (f *Failure) Unwrap() error { return f.Err }

// Expected tells dialect.Handler not to log a failure the dialect
// anticipates (bad input, wrong key, too few points).
func (f *Failure) Expected() bool { return f.Err == nil }

// Result is the document's answer: {"success":true,"message":[]} or
// {"success":false,"message":["…"]}.
type Result struct {
	Success bool     `json:"success"`
	Message []string `json:"message"`
}

// WalletObject is a wallet as the base plugin's wallets table reads from
// MySQL: exactly these keys, every value a string (the external-wallet
// client writes every key but user_email, wallet_id and user_id back as
// columns, so an extra key would break it; WIRE-NOTES §5.5).
type WalletObject struct {
	WalletID   string `json:"wallet_id"`
	UserID     string `json:"user_id"`
	WalletName string `json:"wallet_name"`
	Points     string `json:"points"`
	Status     string `json:"status"`
	UserEmail  string `json:"user_email"`
}

// walletAnswer is {"success":true,"message":{…wallet…}}.
type walletAnswer struct {
	Success bool         `json:"success"`
	Message WalletObject `json:"message"`
}

// Status values of the plugin's wallets table.
const (
	StatusActive   = "1"
	StatusInactive = "0"
)

// IsActive reads a status as a plugin or a Coffer sends it.
func IsActive(status string) bool { return status == StatusActive || status == "true" }

var (
	hdrJSON    = []string{"application/json; charset=UTF-8"}
	hdrNosniff = []string{"nosniff"}
)

// writeJSON writes v as WordPress's REST server does: JSON with
// Content-Type application/json; charset=UTF-8. Every {"success":…}
// answer is HTTP 200 (WIRE-NOTES §5.4).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"success":false,"message":["` + MsgInternal + `"]}`)
		status = http.StatusOK
	}
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["X-Content-Type-Options"] = hdrNosniff
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOK(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, Result{Success: true, Message: []string{}})
}

// wpError is WordPress's REST error body.
type wpError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Status int `json:"status"`
	} `json:"data"`
}

// writeNoRoute answers as WordPress does for a route it does not have (or
// a method the route does not take).
func writeNoRoute(w http.ResponseWriter) {
	e := wpError{Code: "rest_no_route", Message: "No route was found matching the URL and request method."}
	e.Data.Status = http.StatusNotFound
	writeJSON(w, http.StatusNotFound, e)
}

// writeInvalidJSON answers as WordPress does for a JSON body it cannot
// parse.
func writeInvalidJSON(w http.ResponseWriter) {
	e := wpError{Code: "rest_invalid_json", Message: "Invalid JSON body passed."}
	e.Data.Status = http.StatusBadRequest
	writeJSON(w, http.StatusBadRequest, e)
}
