// Package mor speaks Kolmisoft MOR billing's payment_create API
// (seeds/001): /billing/api/payment_create and the older create_payment,
// SHA1 "hash" authentication, XML answers. See README.md beside this file
// for the choices made where the original's document is silent.
package mor

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strings"

	"github.com/coffer-pay/coffer/internal/dialect"
)

// hashParams are the parameters payment_create hashes, in the documented
// order; their raw values are concatenated without separator and the API
// secret key is appended. `u` and `hash` are not hashed.
var hashParams = []string{"user_id", "p_currency", "paymenttype", "tax_in_amount", "amount", "transaction", "payer_email", "comments_for_user"}

// request is payment_create's parameters as sent (last value of a repeated
// key wins, as in Rails, MOR's framework).
type request struct {
	values map[string]string
	has    map[string]bool
}

func readRequest(p *dialect.Params) request {
	r := request{values: map[string]string{}, has: map[string]bool{}}
	for _, name := range p.Names() {
		r.values[name] = p.Last(name)
		r.has[name] = true
	}
	return r
}

func (r request) get(name string) string { return r.values[name] }

// expectedHashes returns the hashes a correct client may send: the
// documented one, and — because whether comments_for_user (added to the
// document in 2020) is hashed is not public — the same without it.
func (r request) expectedHashes(secret string) []string {
	var with, without strings.Builder
	for _, name := range hashParams {
		if !r.has[name] {
			continue
		}
		with.WriteString(r.values[name])
		if name != "comments_for_user" {
			without.WriteString(r.values[name])
		}
	}
	with.WriteString(secret)
	without.WriteString(secret)
	out := []string{sha1Hex(with.String())}
	if r.has["comments_for_user"] && r.values["comments_for_user"] != "" {
		out = append(out, sha1Hex(without.String()))
	}
	return out
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// hashOK compares the sent hash (any letter case) with the expected ones in
// constant time.
func (r request) hashOK(secret string) bool {
	sent := []byte(strings.ToLower(r.get("hash")))
	ok := 0
	for _, want := range r.expectedHashes(secret) {
		ok |= subtle.ConstantTimeCompare(sent, []byte(want))
	}
	return ok == 1
}

// --- answers ---

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

type successPage struct {
	XMLName  xml.Name `xml:"page"`
	Response struct {
		Status    string `xml:"status"`
		Confirmed string `xml:"confirmed"`
		Payment   struct {
			Currency  string `xml:"currency,attr"`
			PaymentID int64  `xml:"payment_id"`
			Tax       string `xml:"tax"`
			Amount    string `xml:"amount"`
			Gross     string `xml:"gross"`
		} `xml:"payment"`
	} `xml:"response"`
}

type errorPage struct {
	XMLName xml.Name `xml:"page"`
	Error   string   `xml:"error"`
	Message string   `xml:"message,omitempty"`
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	// MOR answers errors with HTTP 200 too: the public client rejects any
	// non-2xx before reading the XML (WIRE-NOTES §1.4).
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xmlHeader)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	_ = enc.Encode(v)
	_, _ = io.WriteString(w, "\n")
}

// morError is an answer in MOR's error envelope.
type morError struct {
	text    string // the <error> text
	message string // the <message> text for "Payment was not saved"
}

func (e *morError) Error() string  { return e.text + ": " + e.message }
func (e *morError) Expected() bool { return true }

// The document's errors, and the two the newer API documents for settings.
var (
	errBadLogin      = &morError{text: "Bad login"}
	errIncorrectHash = &morError{text: "Incorrect hash"}
	errNoCurrency    = &morError{text: "No currency"}
	errAccessDenied  = &morError{text: "Access Denied"}
	errGETDisabled   = &morError{text: "GET Requests are disabled"}
	errAPIDisabled   = &morError{text: "API Requests are disabled"}
)

func notSaved(msg string) *morError { return &morError{text: "Payment was not saved", message: msg} }
