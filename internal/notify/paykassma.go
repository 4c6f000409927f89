package notify

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Paykassma is the format of Paykassma's postback (DIALECTS.md §5,
// WIRE-NOTES.md §4.5): a POST of JSON
//
//	{"access_key":"…","signature":"…","transactions":[{"order_id":…,"status":"Success","amount":6008.39,…}]}
//
// where signature = sha1(access_key . private_key . md5(transactions JSON))
// in lowercase hex, and the transactions JSON is written as PHP's
// json_encode writes it with JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE
// (no spaces, '/' and non-ASCII unescaped, numbers in PHP's form) — exactly
// the bytes embedded in the body, so that a PHP merchant that decodes the
// body and encodes the transactions again gets the same hash. Only HTTP 200
// with {"status":"ok"} counts as received; anything else is retried on
// DefaultSchedule.
//
// The delivery's data (or the event's payload) is {"transactions":[…]} or
// one transaction object, fields in the order they are to be sent (the
// Paykassma dialect writes order_id, status, amount, currency,
// payment_system, custom_transaction_id, custom_user_id, created_at,
// activated_at); "amount" may be a decimal string.
type Paykassma struct {
	UserAgent string
	// Keys returns a merchant's postback access key and private key. Its
	// errors are retried (the keys may be set later).
	Keys func(ctx context.Context, merchantID int64) (accessKey, privateKey string, err error)
}

// paykassmaNumbers are the transaction fields written as numbers even when
// given as decimal strings.
var paykassmaNumbers = map[string]bool{"amount": true}

// PaykassmaSignature returns the postback signature of the transactions
// JSON, as sent.
func PaykassmaSignature(accessKey, privateKey string, transactions []byte) string {
	sum := md5.Sum(transactions)
	sig := sha1.Sum([]byte(accessKey + privateKey + hex.EncodeToString(sum[:])))
	return hex.EncodeToString(sig[:])
}

// PaykassmaTransactions encodes a postback's transactions the way they are
// sent and signed, from {"transactions":[…]}, a list, or one transaction.
func PaykassmaTransactions(data []byte) ([]byte, error) {
	data = bytes.TrimSpace(data)
	var list []byte
	switch {
	case len(data) > 0 && data[0] == '[':
		list = data
	case len(data) > 0 && data[0] == '{':
		var wrap struct {
			Transactions json.RawMessage `json:"transactions"`
		}
		if err := json.Unmarshal(data, &wrap); err != nil {
			return nil, err
		}
		if len(wrap.Transactions) > 0 {
			list = wrap.Transactions
		} else {
			list = append(append([]byte{'['}, data...), ']')
		}
	default:
		return nil, errors.New("paykassma postback data must be a JSON object or list")
	}
	out, err := phpEncode(list, paykassmaNumbers)
	if err != nil {
		return nil, err
	}
	if len(out) < 2 || out[0] != '[' || out[1] == ']' {
		return nil, errors.New("paykassma postback has no transaction")
	}
	return out, nil
}

// Encode builds the signed postback.
func (f Paykassma) Encode(ctx context.Context, m Message) (Request, error) {
	in := m.Delivery.Data
	if len(in) == 0 {
		in = m.Event.Payload
	}
	txs, err := PaykassmaTransactions(in)
	if err != nil {
		return Request{}, Permanent(fmt.Errorf("paykassma postback data: %w", err))
	}
	if f.Keys == nil {
		return Request{}, errors.New("paykassma postback keys are not configured")
	}
	access, private, err := f.Keys(ctx, m.Event.MerchantID)
	if err != nil {
		return Request{}, fmt.Errorf("paykassma postback keys: %w", err)
	}
	build := func(access string) ([]byte, error) {
		var b bytes.Buffer
		b.WriteString(`{"access_key":`)
		if err := phpString(&b, access); err != nil {
			return nil, err
		}
		b.WriteString(`,"signature":"` + PaykassmaSignature(access, private, txs) + `","transactions":`)
		b.Write(txs)
		b.WriteByte('}')
		return b.Bytes(), nil
	}
	body, err := build(access)
	if err != nil {
		return Request{}, Permanent(fmt.Errorf("paykassma access key: %w", err))
	}
	var logBody bytes.Buffer
	logBody.WriteString(`{"access_key":"[redacted]",`)
	logBody.Write(body[bytes.Index(body, []byte(`"signature":`)):])
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if f.UserAgent != "" {
		h.Set("User-Agent", f.UserAgent)
	}
	return Request{Header: h, Body: body, LogBody: logBody.Bytes()}, nil
}

// Accepted is HTTP 200 with {"status":"ok"}.
func (Paykassma) Accepted(status int, body []byte) bool {
	if status != http.StatusOK {
		return false
	}
	var answer struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(body, &answer) == nil && answer.Status == "ok"
}
