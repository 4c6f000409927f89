package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// MugglePay is the format of MugglePay's payment callback (DIALECTS.md §3,
// WIRE-NOTES.md §2.4): a POST of JSON
//
//	{"merchant_order_id":…,"order_id":…,"status":"PAID","price_amount":0.14,"price_currency":"USD",
//	 "pay_amount":1,"pay_currency":"CNY","created_at":"2019-04-24T17:23:54.311Z","created_at_t":1556126634311,
//	 "token":"<merchant token>","meta":{…}}
//
// with the amounts as JSON numbers written from their exact decimal text
// (never through float64), token left out when the order had none, meta
// when there is none. There is no signature: the merchant compares the
// echoed token. Only HTTP 200 with {"status":200} in the body counts as
// received (MugglePay's merchant FAQ); anything else is retried on
// MugglePaySchedule.
//
// The delivery's data (or the event's payload) is a MugglePayCallback in
// JSON, amounts as decimal strings or numbers.
type MugglePay struct {
	UserAgent string
}

// MugglePayCallback is the input of the MugglePay format, written by the
// MugglePay dialect into its event's target.
type MugglePayCallback struct {
	// MerchantOrderID is the merchant's order id as the merchant sent it: a
	// JSON string or number (it is echoed unchanged).
	MerchantOrderID json.RawMessage `json:"merchant_order_id,omitempty"`
	OrderID         string          `json:"order_id"`
	Status          string          `json:"status"`
	PriceAmount     decimalText     `json:"price_amount"`
	PriceCurrency   string          `json:"price_currency"`
	PayAmount       decimalText     `json:"pay_amount"`
	PayCurrency     string          `json:"pay_currency"`
	CreatedAt       string          `json:"created_at"`   // RFC 3339 with milliseconds, UTC
	CreatedAtT      int64           `json:"created_at_t"` // Unix milliseconds; 0: from CreatedAt
	Token           string          `json:"token,omitempty"`
	Meta            json.RawMessage `json:"meta,omitempty"`
}

// Encode builds the callback body.
func (f MugglePay) Encode(_ context.Context, m Message) (Request, error) {
	in := m.Delivery.Data
	if len(in) == 0 {
		in = m.Event.Payload
	}
	var cb MugglePayCallback
	dec := json.NewDecoder(bytes.NewReader(in))
	if err := dec.Decode(&cb); err != nil {
		return Request{}, Permanent(fmt.Errorf("mugglepay callback data: %w", err))
	}
	body, err := cb.encode(false)
	if err != nil {
		return Request{}, Permanent(err)
	}
	var logBody []byte
	if cb.Token != "" {
		logBody, _ = cb.encode(true)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if f.UserAgent != "" {
		h.Set("User-Agent", f.UserAgent)
	}
	return Request{Header: h, Body: body, LogBody: logBody}, nil
}

// encode writes the callback in MugglePay's field order; redact hides the
// token (for the delivery log).
func (cb *MugglePayCallback) encode(redact bool) ([]byte, error) {
	price, err := numberToken(string(cb.PriceAmount))
	if err != nil {
		return nil, fmt.Errorf("price_amount: %w", err)
	}
	pay := price
	if cb.PayAmount != "" {
		if pay, err = numberToken(string(cb.PayAmount)); err != nil {
			return nil, fmt.Errorf("pay_amount: %w", err)
		}
	}
	payCurrency := cb.PayCurrency
	if payCurrency == "" {
		payCurrency = cb.PriceCurrency
	}
	ms := cb.CreatedAtT
	if ms == 0 && cb.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, cb.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("created_at: %w", err)
		}
		ms = t.UnixMilli()
	}
	if cb.OrderID == "" || cb.Status == "" {
		return nil, errors.New("mugglepay callback needs order_id and status")
	}
	merchantOrderID := []byte("null")
	if len(cb.MerchantOrderID) > 0 {
		var v any
		if err := json.Unmarshal(cb.MerchantOrderID, &v); err != nil {
			return nil, fmt.Errorf("merchant_order_id: %w", err)
		}
		switch v.(type) {
		case string, float64, nil:
		default:
			return nil, errors.New("merchant_order_id must be a string or a number")
		}
		merchantOrderID = cb.MerchantOrderID
	}
	var b bytes.Buffer
	field := func(name string, raw []byte) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + name + `":`)
		b.Write(raw)
	}
	str := func(s string) []byte { out, _ := marshalNoEscape(s); return out }
	b.WriteByte('{')
	field("merchant_order_id", merchantOrderID)
	field("order_id", str(cb.OrderID))
	field("status", str(cb.Status))
	field("price_amount", []byte(price))
	field("price_currency", str(cb.PriceCurrency))
	field("pay_amount", []byte(pay))
	field("pay_currency", str(payCurrency))
	field("created_at", str(cb.CreatedAt))
	field("created_at_t", []byte(strconv.FormatInt(ms, 10)))
	if cb.Token != "" {
		token := cb.Token
		if redact {
			token = "[redacted]"
		}
		field("token", str(token))
	}
	if len(cb.Meta) > 0 && string(cb.Meta) != "null" {
		var meta bytes.Buffer
		if err := json.Compact(&meta, cb.Meta); err != nil {
			return nil, fmt.Errorf("meta: %w", err)
		}
		field("meta", meta.Bytes())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Accepted is HTTP 200 with a JSON body whose status is 200 (a number, or
// the string "200" that some PHP handlers send).
func (MugglePay) Accepted(status int, body []byte) bool {
	if status != http.StatusOK {
		return false
	}
	var answer struct {
		Status json.RawMessage `json:"status"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return false
	}
	s := string(answer.Status)
	return s == "200" || s == `"200"`
}

// Schedule is MugglePay's own.
func (MugglePay) Schedule() Schedule { return MugglePaySchedule }
