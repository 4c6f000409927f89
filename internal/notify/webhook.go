package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Native webhooks follow the Standard Webhooks specification
// (https://www.standardwebhooks.com): every request carries
//
//	webhook-id:        the event's id (the same on every retry: drop duplicates by it)
//	webhook-timestamp: the attempt's Unix time in seconds
//	webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">
//
// keyed by the base64-decoded part of the endpoint's secret after
// "whsec_". During a secret rotation's grace period the header holds two
// signatures, separated by a space: one per secret.

// SecretPrefix starts every webhook secret.
const SecretPrefix = "whsec_"

// secretBytes is the size of a generated secret's key: 256 bits.
const secretBytes = 32

// DefaultTolerance is how far a webhook's timestamp may be from the
// receiver's clock in Verify when the caller gives no tolerance.
const DefaultTolerance = 5 * time.Minute

// Verification failures.
var (
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrTimestamp      = errors.New("webhook: timestamp outside the tolerance")
	ErrSignature      = errors.New("webhook: no valid signature")
	ErrSecret         = errors.New("webhook: malformed secret")
)

// NewSecret returns a new random secret: "whsec_" and the base64 of 32
// bytes from crypto/rand.
func NewSecret() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// secretKey decodes a secret, with or without its prefix.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrSecret
	}
	return key, nil
}

// mac is the HMAC-SHA256 of "<id>.<timestamp>.<body>", the timestamp as
// written in its header.
func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "." + ts + "."))
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the v1 signature ("v1,<base64>") of a message.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

// Verify checks a webhook request's signature against secret (with or
// without its "whsec_" prefix) and that its timestamp is within tolerance
// of the current time (0 means DefaultTolerance). It returns nil only for
// an authentic, fresh request. Receivers should then drop the requests
// whose webhook-id they have already processed.
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, header, body, tolerance, time.Now())
}

// VerifyAt is Verify with the receiver's clock given.
func VerifyAt(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, tsText, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	want := mac(key, id, tsText, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}

// Webhooks is the native format: Standard Webhooks, signed with the
// endpoint's secret (and its previous one during a rotation). The body is
// {"type":…,"timestamp":…,"data":{…}}: the event's type, its creation time
// (RFC 3339, UTC) and its payload.
type Webhooks struct {
	UserAgent string
	// Box opens signing secrets sealed at rest (see ServiceOptions.Box).
	Box SecretBox
}

type webhookBody struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Encode builds the signed request.
func (w Webhooks) Encode(_ context.Context, m Message) (Request, error) {
	ep := m.Endpoint
	if ep == nil {
		return Request{}, Permanent(errors.New("a native webhook needs an endpoint"))
	}
	var data bytes.Buffer
	if err := json.Compact(&data, m.Event.Payload); err != nil {
		return Request{}, Permanent(fmt.Errorf("event payload: %w", err))
	}
	body, err := marshalNoEscape(webhookBody{
		Type:      m.Event.Type,
		Timestamp: m.Event.CreatedAt.UTC().Format(time.RFC3339Nano),
		Data:      data.Bytes(),
	})
	if err != nil {
		return Request{}, Permanent(err)
	}
	secrets := []string{ep.Secret}
	if ep.PrevSecret != "" && ep.PrevExpiresAt != nil && m.At.Before(*ep.PrevExpiresAt) {
		secrets = append(secrets, ep.PrevSecret) // a rotation's grace period
	}
	sigs := make([]string, 0, len(secrets))
	for _, stored := range secrets {
		secret, err := openSecret(w.Box, ep.MerchantID, stored)
		if err != nil {
			return Request{}, fmt.Errorf("endpoint %d: open signing secret: %w", ep.ID, err)
		}
		sig, err := Sign(secret, m.Event.ID, m.At, body)
		if err != nil {
			return Request{}, Permanent(fmt.Errorf("endpoint %d: %w", ep.ID, err))
		}
		sigs = append(sigs, sig)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", m.Event.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(m.At.Unix(), 10))
	h.Set("webhook-signature", strings.Join(sigs, " "))
	if w.UserAgent != "" {
		h.Set("User-Agent", w.UserAgent)
	}
	return Request{Header: h, Body: body}, nil
}

// Accepted is any 2xx answer.
func (Webhooks) Accepted(status int, _ []byte) bool { return status >= 200 && status < 300 }

// marshalNoEscape encodes v as compact JSON without escaping <, > and &.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
