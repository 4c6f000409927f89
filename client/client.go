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
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return answer{}, fmt.Errorf("coffer: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return answer{}, fmt.Errorf("coffer: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("coffer: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("coffer: %s %s: read answer: %w", method, path, err)
	}
	a := answer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotency-Replayed") == "true"}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return a, decodeError(resp, data, a.replayed)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return a, fmt.Errorf("coffer: %s %s: decode answer: %w", method, path, err)
		}
	}
	return a, nil
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
