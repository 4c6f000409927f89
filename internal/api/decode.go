package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
)

// decode reads one JSON value from the request body into dst, refusing
// unknown fields, wrong types, trailing data and bodies over limit.
func decode(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	return decodeFrom(http.MaxBytesReader(w, r.Body, limit), dst)
}

// decodeFast is decode for the inputs of the hot path: it reads the body
// into a pooled buffer, lets fast (fastjson.go) decode it, and runs the
// decoding of decode over the same bytes (and read error) when fast gives
// up, so that the outcome is always decode's. reset zeroes dst.
func decodeFast(w http.ResponseWriter, r *http.Request, limit int64, dst any, fast func(*decoder) bool, reset func()) error {
	// Room for the announced length (+1: the read that finds the end),
	// but no more than 1 MiB up front: beyond that the buffer grows as the
	// bytes arrive, so a client that announces much and sends little does
	// not make the server allocate for it.
	size := 512
	if r.ContentLength > 0 {
		size = int(min(r.ContentLength, 1<<20)) + 1
	}
	buf := getBuffer(size)
	defer putBuffer(buf)
	var err error
	buf.b, err = readAll(http.MaxBytesReader(w, r.Body, limit), buf.b)
	if err == nil {
		d := decoder{b: buf.b}
		if fast(&d) && d.end() {
			return nil
		}
		reset()
		return decodeFrom(bytes.NewReader(buf.b), dst)
	}
	return decodeFrom(io.MultiReader(bytes.NewReader(buf.b), errReader{err}), dst)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// readAll is io.ReadAll into b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}

// decodeFrom is decode over any reader.
func decodeFrom(body io.Reader, dst any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonError(err)
		}
		return badJSON("", "the body must hold a single JSON object")
	}
	return nil
}

func badJSON(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: msg, Field: field}
}

// jsonError describes a decoding failure without Go type names.
func jsonError(err error) error {
	var mb *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mb):
		return err
	case errors.Is(err, io.EOF):
		return badJSON("", "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badJSON("", "the JSON body ends too early")
	case errors.As(err, &syn):
		return badJSON("", fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error()))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badJSON("", "the body must be a JSON object")
		}
		return badJSON(field, fmt.Sprintf("field %q must be %s, not %s", field, jsonKind(typ.Type), typ.Value))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return badJSON(name, fmt.Sprintf("unknown field %q", name))
	}
	return badJSON("", "malformed JSON body")
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type"
}

// amountText is the exact text of an amount given as a JSON string
// ("12.50") or a JSON number token (12.50). A number's text is kept as
// written, never converted through float64. Absent or null is "".
type amountText string

func (a *amountText) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = amountText(s)
		return nil
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*a = amountText(b)
		return nil
	case string(b) == "null":
		*a = ""
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonValueKind(b), Type: reflect.TypeFor[string]()}
}

func jsonValueKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	}
	return "value"
}

// parseAmount reads a positive amount at the asset's scale.
func parseAmount(field string, s amountText, a assetScale) (int64, *apiError) {
	if s == "" {
		return 0, &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_amount", Field: field,
			Message: field + " is required: a positive decimal string such as \"12.50\""}
	}
	v, err := money.ParsePositive(string(s), a.Scale)
	if err != nil {
		return 0, amountError(field, s, a, err)
	}
	return v, nil
}

// parseLimit reads a non-negative amount (such as an overdraft limit).
func parseLimit(field string, s amountText, a assetScale) (int64, *apiError) {
	if s == "" {
		return 0, nil
	}
	v, err := money.Parse(string(s), a.Scale)
	if err == nil && v < 0 {
		err = money.ErrNegative
	}
	if err != nil {
		return 0, amountError(field, s, a, err)
	}
	return v, nil
}

func amountError(field string, s amountText, a assetScale, err error) *apiError {
	var msg string
	switch {
	case errors.Is(err, money.ErrPrecision):
		msg = fmt.Sprintf("%s %q has more decimals than %s allows (%d)", field, string(s), a.Code, a.Scale)
	case errors.Is(err, money.ErrOverflow):
		msg = fmt.Sprintf("%s %q is out of range", field, string(s))
	case errors.Is(err, money.ErrNegative):
		msg = fmt.Sprintf("%s %q must not be negative", field, string(s))
	default:
		msg = fmt.Sprintf("%s %q must be a positive decimal such as \"12.50\" (no exponent, sign or separators)", field, string(s))
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_amount", Message: msg, Field: field}
}

// assetScale is what parsing and formatting amounts needs of an asset.
type assetScale struct {
	Code  string
	Scale int
}

// idempotencyKey merges the body's key with the Idempotency-Key header:
// either may carry it, and if both do they must be equal.
func idempotencyKey(r *http.Request, body string, required bool) (string, error) {
	hdr := r.Header.Get("Idempotency-Key")
	key := body
	switch {
	case hdr != "" && body != "" && hdr != body:
		return "", invalidField("key", "the Idempotency-Key header and the body's key differ")
	case key == "":
		key = hdr
	}
	if key == "" {
		if required {
			return "", invalidField("key", "key (the idempotency key) is required: give it in the body or in the Idempotency-Key header")
		}
		return "", nil
	}
	if !ledger.ValidKey(key) {
		return "", invalidField("key", fmt.Sprintf("key must be 1-%d printable characters", ledger.MaxKeyLen))
	}
	return key, nil
}

// pathID reads the {id} path value; anything but a positive integer names
// nothing.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// Page sizes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// page reads the cursor and limit query parameters.
func page(r *http.Request) (afterID int64, limit int, err error) {
	q := r.URL.Query()
	limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, invalidField("limit", fmt.Sprintf("limit must be an integer from 1 to %d", maxLimit))
		}
		limit = n
	}
	if c := q.Get("cursor"); c != "" {
		afterID, err = decodeCursor(c)
		if err != nil {
			return 0, 0, err
		}
	}
	return afterID, limit, nil
}

// Cursors are opaque to clients: base64url of "id:<last id>". The version
// tag leaves room to change what a cursor holds.
const cursorTag = "id:"

func encodeCursor(lastID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorTag + strconv.FormatInt(lastID, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if s, ok := strings.CutPrefix(string(b), cursorTag); ok {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, invalidField("cursor", "cursor is not one this API returned")
}
