// Package dialect holds what the five legacy-API adapters share: reading
// parameters the way each original server did (query string, urlencoded
// and multipart forms, JSON bodies), and a handler shape that always
// answers in the dialect's own format — for expected errors, for errors
// nobody anticipated, and for panics. Each dialect lives in its own
// sub-package and stays thin: parse, authenticate, call the domain, shape
// the answer.
package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Source says where a parameter came from.
type Source int

const (
	FromQuery Source = iota
	FromBody
)

// Value is one occurrence of a parameter, with its raw text as sent.
type Value struct {
	Text   string
	Source Source
}

// Params are a request's parameters in arrival order: query string first,
// then the body. Dialects choose how to resolve repeats (First or Last),
// because the originals differ (Rails and PHP keep the last; WordPress
// merges with the body winning).
type Params struct {
	values map[string][]Value
	order  []string
}

// MaxBodyParams limits how many parameters one request may carry.
const MaxBodyParams = 1000

// ErrBody is returned for a body that cannot be read as parameters.
var ErrBody = errors.New("malformed request body")

// ParseOptions tune Parse.
type ParseOptions struct {
	// JSON accepts an application/json object body (string, number and
	// boolean members become parameters; nested values are kept as their
	// JSON text).
	JSON bool
	// MaxMemory bounds multipart parsing held in memory (default 1 MiB).
	MaxMemory int64
}

// Parse reads the query string and, for POST/PUT/PATCH, the body
// (urlencoded, multipart, and JSON when allowed). The body size limit is
// the server's (http.MaxBytesReader); an over-long body is an error.
func Parse(r *http.Request, opt ParseOptions) (*Params, error) {
	p := &Params{values: map[string][]Value{}}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: query string: %v", ErrBody, err)
	}
	for _, k := range sortedKeysInOrder(r.URL.RawQuery, q) {
		for _, v := range q[k] {
			p.add(k, v, FromQuery)
		}
	}
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return p, nil
	}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/x-www-form-urlencoded":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBody, err)
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: form: %v", ErrBody, err)
		}
		for _, k := range sortedKeysInOrder(string(body), vals) {
			for _, v := range vals[k] {
				p.add(k, v, FromBody)
			}
		}
	case ct == "multipart/form-data":
		if params["boundary"] == "" {
			return nil, fmt.Errorf("%w: multipart without boundary", ErrBody)
		}
		max := opt.MaxMemory
		if max <= 0 {
			max = 1 << 20
		}
		form, err := multipartValues(r.Body, params["boundary"], max)
		if err != nil {
			return nil, fmt.Errorf("%w: multipart: %v", ErrBody, err)
		}
		for _, kv := range form {
			p.add(kv[0], kv[1], FromBody)
		}
	case opt.JSON && (ct == "application/json" || strings.HasSuffix(ct, "+json")):
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBody, err)
		}
		if len(bytes.TrimSpace(body)) == 0 {
			break
		}
		if err := p.addJSON(body); err != nil {
			return nil, err
		}
	}
	if p.count() > MaxBodyParams {
		return nil, fmt.Errorf("%w: too many parameters", ErrBody)
	}
	return p, nil
}

func (p *Params) count() int {
	n := 0
	for _, vs := range p.values {
		n += len(vs)
	}
	return n
}

func (p *Params) add(k, v string, src Source) {
	if _, ok := p.values[k]; !ok {
		p.order = append(p.order, k)
	}
	p.values[k] = append(p.values[k], Value{Text: v, Source: src})
}

// addJSON takes the members of a JSON object. Numbers keep their exact
// text (never float64); strings their value; booleans "true"/"false";
// null is skipped; arrays and objects keep their compact JSON text.
func (p *Params) addJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("%w: JSON body must be an object: %v", ErrBody, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrBody)
	}
	keys := jsonKeyOrder(body, obj)
	for _, k := range keys {
		raw := bytes.TrimSpace(obj[k])
		switch {
		case len(raw) == 0 || string(raw) == "null":
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrBody, k, err)
			}
			p.add(k, s, FromBody)
		case raw[0] == '{' || raw[0] == '[':
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrBody, k, err)
			}
			p.add(k, buf.String(), FromBody)
		default: // number, true, false
			p.add(k, string(raw), FromBody)
		}
	}
	return nil
}

// Has reports whether the parameter was sent at all (even empty).
func (p *Params) Has(k string) bool { return len(p.values[k]) > 0 }

// First is the first value sent, or "".
func (p *Params) First(k string) string {
	if vs := p.values[k]; len(vs) > 0 {
		return vs[0].Text
	}
	return ""
}

// Last is the last value sent (the body wins over the query), or "".
func (p *Params) Last(k string) string {
	if vs := p.values[k]; len(vs) > 0 {
		return vs[len(vs)-1].Text
	}
	return ""
}

// All is every value sent for k, in order.
func (p *Params) All(k string) []Value { return p.values[k] }

// Names lists the parameter names in the order they first appeared.
func (p *Params) Names() []string { return p.order }
