package paykassma

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Field limits (seeds/004: currency 3 characters, label up to 190, key1 up
// to 11; the others are Coffer's choices, see README.md).
const (
	maxBody       = 64 << 10
	maxLabel      = 190
	maxKey1       = 11
	maxCustomID   = 190
	maxWalletType = 32
)

// failure is an answer {"status":"fail","message":…}.
type failure struct {
	status  int // HTTP status; 0 is 200
	message string
}

func (f *failure) Error() string  { return f.message }
func (f *failure) Expected() bool { return true }

func failf(format string, args ...any) *failure {
	return &failure{message: fmt.Sprintf(format, args...)}
}

// fields reads a JSON object body into text values. Strings and numbers are
// accepted for every field (PHP clients send either); anything else, a
// repeated key, or trailing data, is an error naming the field.
func fields(r io.Reader) (map[string]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, failf("The request could not be read")
	}
	if len(b) > maxBody {
		return nil, failf("The request is too large")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]string{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, failf("The request body must be a JSON object")
	}
	out := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, failf("The request body must be a JSON object")
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, failf("The request body must be a JSON object")
		}
		if _, dup := out[key]; dup {
			return nil, failf("The %s field is given twice", key)
		}
		switch x := v.(type) {
		case string:
			out[key] = x
		case json.Number:
			out[key] = x.String()
		case nil:
			out[key] = ""
		default:
			return nil, failf("The %s must be a string or a number", key)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, failf("The request body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, failf("The request body must be a JSON object")
	}
	return out, nil
}

// text checks a required text field: present, valid UTF-8, printable, at
// most max characters (runes).
func text(f map[string]string, name string, max int) (string, error) {
	v := strings.TrimSpace(f[name])
	if v == "" {
		return "", failf("The %s field is required.", name)
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return "", failf("The %s may not be greater than %d characters.", name, max)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "", failf("The %s contains a control character.", name)
		}
	}
	return v, nil
}

// currency checks a 3-letter currency code.
func currency(f map[string]string, name string) (string, error) {
	v, err := text(f, name, 3)
	if err != nil {
		return "", err
	}
	if len(v) != 3 {
		return "", failf("The %s must be 3 characters.", name)
	}
	for _, r := range v {
		if r < 'A' || r > 'Z' {
			return "", failf("The %s must be 3 characters.", name)
		}
	}
	return v, nil
}

// createRequest is transaction/create's body.
type createRequest struct {
	Currency, Label string
}

func parseCreate(body io.Reader) (createRequest, error) {
	f, err := fields(body)
	if err != nil {
		return createRequest{}, err
	}
	var c createRequest
	if c.Currency, err = currency(f, "currency"); err != nil {
		return c, err
	}
	if c.Label, err = text(f, "label", maxLabel); err != nil {
		return c, err
	}
	return c, nil
}

// activateRequest is transaction/activate's body.
type activateRequest struct {
	Currency, WalletType, Label, Key1, Amount, CustomID string
}

func parseActivate(body io.Reader) (activateRequest, error) {
	f, err := fields(body)
	if err != nil {
		return activateRequest{}, err
	}
	var a activateRequest
	if a.Currency, err = currency(f, "currency_code"); err != nil {
		return a, err
	}
	if a.WalletType, err = text(f, "wallet_type", maxWalletType); err != nil {
		return a, err
	}
	if a.Label, err = text(f, "label", maxLabel); err != nil {
		return a, err
	}
	if a.Key1, err = text(f, "key1", maxKey1); err != nil {
		return a, err
	}
	if a.Amount, err = text(f, "amount", 32); err != nil {
		return a, err
	}
	if a.CustomID, err = text(f, "custom_transaction_id", maxCustomID); err != nil {
		return a, err
	}
	return a, nil
}
