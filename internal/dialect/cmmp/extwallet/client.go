// Package extwallet is Coffer's external wallet mode: a Coffer (the
// client) that uses the wallets of a main site — another Coffer, or a
// WordPress site with CM MicroPayments and its External API add-on — as
// its own. Client speaks the four calls the base plugin makes to its main
// site (WIRE-NOTES §5.5); Mirror keeps the client's own ledger in step
// with the main site's wallets and performs the client's CMMP checks and
// withdrawals on the main site.
package extwallet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/internal/dialect/cmmp"
)

// Options tune a Client.
type Options struct {
	// Timeout bounds each call but get_wallets (default 30s).
	Timeout time.Duration
	// ListTimeout bounds get_wallets, which may carry many wallets
	// (default 30m).
	ListTimeout time.Duration
	// MaxBody limits an answer other than get_wallets (default 1 MiB).
	MaxBody int64
	// MaxListBody limits the answer of get_wallets (default 1 GiB); it is
	// decoded as it arrives, one wallet at a time.
	MaxListBody int64
	// Transport replaces the client's own (for tests).
	Transport http.RoundTripper
}

// Client calls a main site's External API with its secure key.
type Client struct {
	base *url.URL
	key  string
	hc   *http.Client
	opt  Options
}

// ErrConfig is returned by New for an unusable URL or key.
var ErrConfig = errors.New("external wallet")

// New returns a client of the main site at rawURL (such as
// https://www.site.com, or with the WordPress directory:
// https://site.com/blog), authenticated by key.
func New(rawURL, key string, opt Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(rawURL, "/"))
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: the main site's URL must be http:// or https:// with a host, without query or credentials, such as https://www.site.com (got %q)", ErrConfig, rawURL)
	}
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		return nil, fmt.Errorf("%w: the main site's secure key is required", ErrConfig)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.ListTimeout <= 0 {
		opt.ListTimeout = 30 * time.Minute
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.MaxListBody <= 0 {
		opt.MaxListBody = 1 << 30
	}
	tr := opt.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: opt.Timeout,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	hc := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return &Client{base: u, key: key, hc: hc, opt: opt}, nil
}

// URL is the main site's address.
func (c *Client) URL() string { return c.base.String() }

// Wallet is a wallet as the main site sends it: the plugin's columns,
// values as text (MySQL sends strings; a number or null is read as its
// text or "").
type Wallet struct {
	WalletID   string
	UserID     string
	WalletName string
	Points     string
	Status     string
	UserEmail  string
}

// UnmarshalJSON reads the plugin's wallet object.
func (w *Wallet) UnmarshalJSON(b []byte) error {
	var m map[string]text
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*w = Wallet{WalletID: string(m["wallet_id"]), UserID: string(m["user_id"]), WalletName: string(m["wallet_name"]),
		Points: string(m["points"]), Status: string(m["status"]), UserEmail: string(m["user_email"])}
	return nil
}

// text is a JSON string, number, boolean or null, as text.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*t = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case b[0] == 't':
		*t = "1" // PHP's true prints as 1
	case b[0] == 'f':
		*t = "0"
	case b[0] == '{' || b[0] == '[':
		return errors.New("expected a string or a number")
	default:
		*t = text(b)
	}
	return nil
}

// RemoteError is the main site's refusal: {"success":false,"message":[…]}
// (or a WordPress REST error such as rest_no_route).
type RemoteError struct {
	Call     string
	Status   int      // HTTP status
	Messages []string // the main site's messages
}

func (e *RemoteError) Error() string {
	msg := strings.Join(e.Messages, "; ")
	switch {
	case e.Status == http.StatusNotFound:
		msg = strings.TrimSpace(msg + " (no External API at this address: is it the site's root URL, with the External API add-on active?)")
	case msg == "":
		msg = "no message"
	}
	return fmt.Sprintf("external wallet: the main site refused %s (HTTP %d): %s", e.Call, e.Status, msg)
}

// ErrUnreachable wraps failures to reach the main site or to read its
// answer.
var ErrUnreachable = errors.New("external wallet: the main site cannot be reached")

type unreachable struct {
	call string
	err  error
}

func (e *unreachable) Error() string {
	return fmt.Sprintf("%v (%s): %v", ErrUnreachable, e.call, e.err)
}
func (e *unreachable) Unwrap() []error {
	return []error{ErrUnreachable, e.err}
}

// get sends call with the key and params and returns the answer's body,
// open, for the caller to read and close; limit bounds what it may read.
func (c *Client) get(ctx context.Context, call string, params url.Values, limit int64) (*http.Response, io.Reader, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + cmmp.Prefix[:len(cmmp.Prefix)-1] + cmmp.Namespace + call
	q := url.Values{"key": {c.key}}
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, &unreachable{call, err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Coffer external wallet")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, &unreachable{call, redactKey(err, c.key)}
	}
	return resp, &limitedReader{r: resp.Body, n: limit, call: call}, nil
}

// redactKey keeps the key out of an error that quotes the URL.
func redactKey(err error, key string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: strings.ReplaceAll(ue.URL, url.QueryEscape(key), "[key]"), Err: ue.Err}
	}
	return err
}

// limitedReader fails once more than n bytes were read.
type limitedReader struct {
	r    io.Reader
	n    int64
	call string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("the answer of %s is larger than the limit", l.call)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// envelope is {"success":…,"message":…} with message left raw.
type envelope struct {
	Success text            `json:"success"`
	Message json.RawMessage `json:"message"`
	// A WordPress REST error instead: {"code":…,"message":…}.
	Code string `json:"code"`
}

func truthy(t text) bool { return t == "1" || t == "true" }

// messages reads a message that is a list of strings or one string.
func messages(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}

// one calls a single-answer endpoint and returns its message on success.
func (c *Client) one(ctx context.Context, call string, params url.Values) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	resp, body, err := c.get(ctx, call, params, c.opt.MaxBody)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, &unreachable{call, err}
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, &unreachable{call, fmt.Errorf("HTTP %d, not a JSON answer: %.80q", resp.StatusCode, data)}
	}
	if resp.StatusCode != http.StatusOK || !truthy(env.Success) {
		msgs := messages(env.Message)
		if env.Code != "" {
			msgs = append([]string{env.Code}, msgs...)
		}
		return nil, &RemoteError{Call: call, Status: resp.StatusCode, Messages: msgs}
	}
	return env.Message, nil
}

// WalletByName is get_wallet_by_name.
func (c *Client) WalletByName(ctx context.Context, name string) (Wallet, error) {
	return c.wallet(ctx, "get_wallet_by_name", url.Values{"wallet_name": {name}})
}

// WalletByEmail is get_wallet: the wallet of the main site's user with
// that e-mail.
func (c *Client) WalletByEmail(ctx context.Context, email string) (Wallet, error) {
	return c.wallet(ctx, "get_wallet", url.Values{"email": {email}})
}

func (c *Client) wallet(ctx context.Context, call string, params url.Values) (Wallet, error) {
	msg, err := c.one(ctx, call, params)
	if err != nil {
		return Wallet{}, err
	}
	var w Wallet
	if err := json.Unmarshal(msg, &w); err != nil || w.WalletName == "" {
		return Wallet{}, &unreachable{call, fmt.Errorf("the answer is not a wallet: %.80q", msg)}
	}
	return w, nil
}

// Withdraw is withdraw_wallet_points_external: points (as text) out of the
// wallet named name on the main site; typ is the plugin's transaction type
// ("1" when empty).
func (c *Client) Withdraw(ctx context.Context, name, typ, points string) error {
	if typ == "" {
		typ = "1"
	}
	_, err := c.one(ctx, "withdraw_wallet_points_external", url.Values{"wallet_id": {name}, "type": {typ}, "points": {points}})
	return err
}

// errStop ends Wallets early without an error.
var errStop = errors.New("stop")

// Wallets is get_wallets: it calls fn with each of the main site's
// wallets, as the answer arrives, and stops at fn's first error.
func (c *Client) Wallets(ctx context.Context, fn func(Wallet) error) error {
	const call = "get_wallets"
	ctx, cancel := context.WithTimeout(ctx, c.opt.ListTimeout)
	defer cancel()
	resp, body, err := c.get(ctx, call, nil, c.opt.MaxListBody)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(body)
	bad := func(err error) error {
		if errors.Is(err, errStop) || ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		return &unreachable{call, fmt.Errorf("HTTP %d, unreadable answer: %w", resp.StatusCode, err)}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil {
			err = fmt.Errorf("not a JSON object")
		}
		return bad(err)
	}
	var success text
	var msgs []string
	sawSuccess := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		switch tok {
		case "success":
			if err := dec.Decode(&success); err != nil {
				return bad(err)
			}
			sawSuccess = true
		case "message", "code":
			if tok == "code" {
				var code string
				if err := dec.Decode(&code); err != nil {
					return bad(err)
				}
				msgs = append([]string{code}, msgs...)
				continue
			}
			t, err := dec.Token()
			if err != nil {
				return bad(err)
			}
			if t != json.Delim('[') {
				if s, ok := t.(string); ok {
					msgs = append(msgs, s)
				}
				if d, ok := t.(json.Delim); ok && d == '{' { // an object: skip it
					if err := skipRest(dec); err != nil {
						return bad(err)
					}
				}
				continue
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return bad(err)
				}
				if len(raw) > 0 && raw[0] == '"' {
					var s string
					_ = json.Unmarshal(raw, &s)
					msgs = append(msgs, s)
					continue
				}
				if sawSuccess && !truthy(success) {
					continue
				}
				var w Wallet
				if err := json.Unmarshal(raw, &w); err != nil {
					return bad(fmt.Errorf("a wallet: %w", err))
				}
				if err := fn(w); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ]
				return bad(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return bad(err)
	}
	if resp.StatusCode != http.StatusOK || !truthy(success) {
		return &RemoteError{Call: call, Status: resp.StatusCode, Messages: msgs}
	}
	return nil
}

// skipRest skips the rest of an object or array whose opening delimiter
// was just read.
func skipRest(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
	}
	return nil
}

// Check is the plugin's "check connection": get_wallets must answer
// success with a list. It reads no further than the first wallet. Unlike
// the plugin, which counts an empty list as a failure, an empty list is a
// working connection (a new main site has no wallets yet).
func (c *Client) Check(ctx context.Context) error {
	err := c.Wallets(ctx, func(Wallet) error { return errStop })
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}
