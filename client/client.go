// Package client is the Go client of Coffer's native JSON API (/coffer/v1/).
//
// Amounts travel as exact decimal strings ("12.50") at the asset's scale;
// the client never turns them into floating point. Every method takes a
// context first; the context bounds the whole call. A Client is safe for
// concurrent use and keeps connections alive, so create one and share it.
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("COFFER_KEY"))
//	t, err := c.CreateTransfer(ctx, client.TransferRequest{
//		Key: "order-42", DebitAccountID: 1, CreditAccountID: 2, Asset: "USD", Amount: "9.99",
//	})
//	var ce *client.Error
//	if errors.As(err, &ce) && ce.Code == "insufficient_funds" { … }
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prefix is the native API's path prefix.
const Prefix = "/coffer/v1"

// Client calls one Coffer server with one API key.
type Client struct {
	base      string
	token     string
	hc        *http.Client
	userAgent string

	// Set up once by New, so that a request costs no URL parsing and no
	// string building: the parsed base URL (nil if it is unusual enough
	// to be left to http.NewRequest) and the header values, shared by
	// every request (header values are never modified in place).
	baseURL  *url.URL
	hAuth    []string
	hAgent   []string
	hAccept  []string
	hJSON    []string
	hMinimal []string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests through hc instead of its
// own keep-alive client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (such as
// "http://127.0.0.1:8080"; a trailing /coffer/v1 is accepted too) that
// authenticates with token (a ck_… API key).
func New(baseURL, token string, opts ...Option) *Client {
	base := strings.TrimSuffix(baseURL, "/")
	base = strings.TrimSuffix(base, Prefix)
	c := &Client{base: base, token: token, userAgent: "coffer-client"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: NewTransport()}
	}
	// Only a plain base URL (scheme, host and path) takes the fast way;
	// http.NewRequest deals with anything else as it always did.
	if u, err := url.Parse(base); err == nil && u.Scheme != "" && u.Host != "" && u.Opaque == "" && u.User == nil &&
		u.RawPath == "" && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" && !strings.HasSuffix(u.Host, ":") {
		c.baseURL = u
	}
	if token != "" {
		c.hAuth = []string{"Bearer " + token}
	}
	if c.userAgent != "" {
		c.hAgent = []string{c.userAgent}
	}
	c.hAccept = []string{"application/json"}
	c.hJSON = []string{"application/json"}
	c.hMinimal = []string{"return=minimal"}
	return c
}

// NewTransport returns the transport New uses by default: HTTP keep-alive
// with up to 1024 idle connections to the server, so that many concurrent
// callers (such as coffer bench) reuse connections instead of opening new
// ones.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 1024
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// Error is an error answer of the API. Status is the HTTP status (0 for the
// error of one item of a batch). Replayed is true when the answer is the
// stored outcome of an earlier request with the same idempotency key.
type Error struct {
	Status     int           `json:"-"`
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	Field      string        `json:"field,omitempty"`
	Replayed   bool          `json:"-"`
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("coffer: ")
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteByte(' ')
	}
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Field != "" {
		b.WriteString(" (field ")
		b.WriteString(e.Field)
		b.WriteByte(')')
	}
	return b.String()
}

// Code returns the API error code of err, or "" if err is not an *Error.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Temporary reports whether err is worth retrying with the same
// idempotency key: a 503, or a failure to reach the server or to read its
// answer (the request may or may not have been applied; the key makes the
// retry safe).
func Temporary(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests
	}
	return err != nil && !errors.Is(err, context.Canceled)
}

// answer is what do learned beyond the decoded body.
type answer struct {
	status   int
	replayed bool
}

// do sends one request. in, if not nil, is sent as JSON; a 2xx answer is
// decoded into out (if not nil) and any other answer becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (answer, error) {
	return c.send(ctx, method, path, query, in, out, false)
}

// send is do, with minimal asking for a minimal answer (Prefer:
// return=minimal).
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in, out any, minimal bool) (answer, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = encode(in); err != nil {
			return answer{}, fmt.Errorf("coffer: encode %s %s: %w", method, path, err)
		}
	}
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return answer{}, fmt.Errorf("coffer: %s %s: %w", method, path, err)
	}
	// The header values are shared, read-only slices (see New).
	h := req.Header
	if in != nil {
		h["Content-Type"] = c.hJSON
	}
	h["Accept"] = c.hAccept
	if c.hAuth != nil {
		h["Authorization"] = c.hAuth
	}
	if c.hAgent != nil {
		h["User-Agent"] = c.hAgent
	}
	if minimal {
		h["Prefer"] = c.hMinimal
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("coffer: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	buf := getBuffer(resp.ContentLength)
	defer putBuffer(buf)
	data, err := readAll(resp.Body, buf.b[:0])
	buf.b = data
	if err != nil {
		return answer{}, fmt.Errorf("coffer: %s %s: read answer: %w", method, path, err)
	}
	a := answer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotency-Replayed") == "true"}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return a, decodeError(resp, data, a.replayed)
	}
	if out != nil {
		// Decoders copy what they keep: data goes back to the pool.
		switch o := out.(type) {
		case *Transfer:
			err = decodeTransfer(data, o)
		case *leanResults:
			err = decodeLeanResults(data, o)
		case *fullResults:
			err = decodeBatchResults(data, &o.batchResults, o.hint)
		default:
			err = json.Unmarshal(data, out)
		}
		if err != nil {
			return a, fmt.Errorf("coffer: %s %s: decode answer: %w", method, path, err)
		}
	}
	return a, nil
}

// encode is json.Marshal, by hand for the types of the hot path.
func encode(in any) ([]byte, error) {
	switch v := in.(type) {
	case *TransferRequest:
		if b, ok := encodeTransferRequest(v); ok {
			return b, nil
		}
	case *BatchRequest:
		if b, ok := encodeBatchRequest(v); ok {
			return b, nil
		}
	}
	return json.Marshal(in)
}

// newRequest builds a request of path (under the base URL) with body, if
// not nil, as its content. It is http.NewRequestWithContext without
// parsing the URL again on every call.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Request, error) {
	// The body is a *bytes.Reader with GetBody, as http.NewRequest makes
	// it: the transport then sends headers and body in one write, and may
	// resend it. (Its buffer is never reused: the transport may still
	// read it after Do returns.)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	if c.baseURL == nil || ctx == nil {
		u := c.base + path
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		return http.NewRequestWithContext(ctx, method, u, rd)
	}
	u := &url.URL{Scheme: c.baseURL.Scheme, Host: c.baseURL.Host, Path: c.baseURL.Path + path}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, 6),
		Host:       u.Host,
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		if len(body) == 0 {
			req.Body, req.GetBody = http.NoBody, noBody
		} else {
			req.Body = io.NopCloser(rd)
			req.GetBody = func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(body)), nil
			}
		}
	}
	return req.WithContext(ctx), nil
}

func noBody() (io.ReadCloser, error) { return http.NoBody, nil }

// buffer is a pooled buffer for reading answers.
type buffer struct{ b []byte }

var buffers = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 4096)} }}

// maxPooled bounds the buffers kept for reuse.
const maxPooled = 4 << 20

// getBuffer returns a buffer that holds an answer of size bytes (-1:
// unknown) and one more byte, so that the read that finds the end does not
// grow it.
func getBuffer(size int64) *buffer {
	buf := buffers.Get().(*buffer)
	if size >= 0 && size < maxPooled && int(size) >= cap(buf.b) {
		buf.b = make([]byte, 0, size+1)
	}
	return buf
}

func putBuffer(buf *buffer) {
	if cap(buf.b) <= maxPooled {
		buf.b = buf.b[:0]
		buffers.Put(buf)
	}
}

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

func decodeError(resp *http.Response, data []byte, replayed bool) error {
	var body struct {
		Error *Error `json:"error"`
	}
	e := &Error{}
	if json.Unmarshal(data, &body) == nil && body.Error != nil {
		e = body.Error
	} else {
		e.Code = "http_" + strconv.Itoa(resp.StatusCode)
		e.Message = strings.TrimSpace(string(data))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	e.Status = resp.StatusCode
	e.Replayed = replayed
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func pageQuery(cursor string, limit int) url.Values {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}
