package dialect

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/url"
	"strings"
)

// sortedKeysInOrder returns the keys of vals in the order they first occur
// in the raw query text, so parameter order survives parsing.
func sortedKeysInOrder(raw string, vals url.Values) []string {
	out := make([]string, 0, len(vals))
	seen := make(map[string]bool, len(vals))
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if _, ok := vals[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for k := range vals { // anything the split missed
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// jsonKeyOrder returns the keys of obj in document order.
func jsonKeyOrder(body []byte, obj map[string]json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	out := make([]string, 0, len(obj))
	seen := map[string]bool{}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return keysOf(obj)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := t.(string)
		if _, ok := obj[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	for k := range obj {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// multipartValues reads the non-file fields of a multipart body in order.
// File parts are skipped (no dialect takes uploads); each field is capped.
func multipartValues(body io.Reader, boundary string, max int64) ([][2]string, error) {
	mr := multipart.NewReader(body, boundary)
	var out [][2]string
	var total int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := part.FormName()
		if name == "" || part.FileName() != "" {
			part.Close()
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, max-total+1))
		part.Close()
		if err != nil {
			return nil, err
		}
		total += int64(len(b))
		if total > max {
			return nil, errTooLarge
		}
		out = append(out, [2]string{name, string(b)})
		if len(out) > MaxBodyParams {
			return nil, errTooMany
		}
	}
}

type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errTooLarge = parseError("form too large")
	errTooMany  = parseError("too many fields")
)
