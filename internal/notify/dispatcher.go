package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Defaults of Options.
const (
	DefaultWorkers      = 8
	DefaultTimeout      = 15 * time.Second
	DefaultPoll         = 500 * time.Millisecond
	DefaultFailingAfter = 5
	// MaxResponseBody is how much of an answer is read: enough for any
	// acknowledgement; a larger body is cut, never read to its end.
	MaxResponseBody = 64 << 10
	// maxLoggedResponse is how much of an answer the delivery log keeps.
	maxLoggedResponse = 4 << 10
	fanOutBatch       = 500
	queueDepthEvery   = 10 * time.Second
)

// Observer receives the dispatcher's measurements (package metrics
// implements it).
type Observer interface {
	// ObserveDelivery records one attempt: its format, its result
	// ("delivered", "retry", "failed", "disabled", "lost") and how long it
	// took.
	ObserveDelivery(format, result string, took time.Duration)
	// SetQueueDepth records how many deliveries are due.
	SetQueueDepth(n int)
}

// Options configure a Dispatcher. The zero value is usable.
type Options struct {
	// Formats encode deliveries by format; nil means DefaultFormats.
	Formats map[string]Format
	// Workers is how many attempts run at once (default 8).
	Workers int
	// Timeout bounds each request, connection included (default 15 s).
	Timeout time.Duration
	// Poll is how often the dispatcher looks for new events and due
	// retries when nothing wakes it (default 500 ms).
	Poll time.Duration
	// Lease is how long a claim holds a delivery; a node that dies holding
	// claims delays those deliveries by at most this. Default 2×Timeout+5 s:
	// it must outlast an attempt.
	Lease time.Duration
	// FailingAfter is how many consecutive failures mark an endpoint
	// failing (default 5).
	FailingAfter int
	// Schedule is the retry schedule of formats without their own
	// (default DefaultSchedule).
	Schedule *Schedule
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses.
	AllowPrivate bool
	// Client sends the requests; nil builds NewHTTPClient(Timeout,
	// AllowPrivate).
	Client   *http.Client
	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
}

// DefaultFormats are the formats a dispatcher knows when Options.Formats
// is nil. Paykassma postbacks need the merchant's keys: until a
// Paykassma with Keys replaces this one, they fail and are retried.
func DefaultFormats(userAgent string) map[string]Format {
	return map[string]Format{
		store.FormatWebhook:   Webhooks{UserAgent: userAgent},
		store.FormatMugglePay: MugglePay{UserAgent: userAgent},
		store.FormatPaykassma: Paykassma{UserAgent: userAgent},
	}
}

// Dispatcher delivers the outbox: it fans new events out into deliveries,
// claims due deliveries, sends them, and records each attempt. Several
// dispatchers (one per node) may share a PostgreSQL database.
//
// Delivery is at least once: a delivery is marked delivered only after the
// receiver's acceptance is recorded, so a crash in between sends it again
// (with the same event id). Per destination, the events of a subject go
// out in order: the next waits until the previous one is delivered or
// given up.
type Dispatcher struct {
	st     store.Store
	opt    Options
	log    *slog.Logger
	client *http.Client
	nudge  chan struct{}
}

// NewDispatcher returns a dispatcher over st. Start it with Run.
func NewDispatcher(st store.Store, opt Options) *Dispatcher {
	if opt.Formats == nil {
		opt.Formats = DefaultFormats("Coffer-Webhooks/1")
	}
	if opt.Workers <= 0 {
		opt.Workers = DefaultWorkers
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.Lease <= 0 {
		opt.Lease = 2*opt.Timeout + 5*time.Second
	}
	if opt.FailingAfter <= 0 {
		opt.FailingAfter = DefaultFailingAfter
	}
	if opt.Schedule == nil {
		opt.Schedule = &DefaultSchedule
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	clock := opt.Now
	opt.Now = func() time.Time { return clock().UTC().Truncate(time.Microsecond) }
	client := opt.Client
	if client == nil {
		client = NewHTTPClient(opt.Timeout, opt.AllowPrivate)
	}
	return &Dispatcher{st: st, opt: opt, log: opt.Logger, client: client, nudge: make(chan struct{}, 1)}
}

// Nudge wakes the dispatcher: new events were committed, or deliveries
// became due. It never blocks.
func (d *Dispatcher) Nudge() {
	select {
	case d.nudge <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Then it stops claiming, lets the attempts
// under way finish (each is bounded by Timeout), gives back any claim not
// recorded, and returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	done := make(chan string, d.opt.Workers) // a finished attempt's claim token
	var wg sync.WaitGroup
	active := 0
	held := map[string]int{} // claim token → attempts under way
	finish := func(token string) {
		active--
		if held[token]--; held[token] <= 0 {
			delete(held, token)
		}
	}
	poll := time.NewTicker(d.opt.Poll)
	defer poll.Stop()
	lastDepth := time.Time{}
	// Attempts are not cut short by ctx: at shutdown they run to their
	// own timeout, so that what a receiver took gets recorded.
	sendCtx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		d.fanOut(ctx)
		more := false
		if free := d.opt.Workers - active; free > 0 {
			claims, err := d.st.ClaimDeliveries(ctx, d.opt.Now(), d.opt.Lease, free)
			if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrRetry) {
				d.log.Warn("notify: claim deliveries", "err", err)
			}
			more = len(claims) == free
			for i := range claims {
				c := claims[i]
				active++
				held[c.Token]++
				wg.Go(func() {
					d.attempt(sendCtx, &c)
					done <- c.Token
				})
			}
		}
		if d.opt.Observer != nil && time.Since(lastDepth) >= queueDepthEvery {
			lastDepth = time.Now()
			if n, err := d.st.CountDueDeliveries(ctx, d.opt.Now()); err == nil {
				d.opt.Observer.SetQueueDepth(n)
			}
		}
		if more {
			// Every worker is busy: wait for one.
			select {
			case <-ctx.Done():
			case tok := <-done:
				finish(tok)
			}
			continue
		}
		select {
		case <-ctx.Done():
		case tok := <-done:
			finish(tok)
		case <-d.nudge:
		case <-poll.C:
		}
	}
	go func() { wg.Wait(); close(done) }()
	for tok := range done {
		finish(tok)
	}
	if len(held) > 0 {
		tokens := make([]string, 0, len(held))
		for t := range held {
			tokens = append(tokens, t)
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.st.ReleaseClaims(rctx, tokens); err != nil {
			d.log.Warn("notify: release claims", "err", err)
		}
	}
	return nil
}

// fanOut turns every new event into its deliveries.
func (d *Dispatcher) fanOut(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := d.st.FanOut(ctx, d.opt.Now(), fanOutBatch, route)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, store.ErrRetry) {
				d.log.Warn("notify: fan out", "err", err)
			}
			return
		}
		if n < fanOutBatch {
			return
		}
	}
}

// route names an event's destinations: its merchant's enabled endpoints
// whose filter matches its type, and the targets its producer named.
func route(ev store.Event, targets []store.Target, eps []store.WebhookEndpoint) []store.Delivery {
	var out []store.Delivery
	for _, ep := range eps {
		if matches(ep.EventTypes, ev.Type) {
			out = append(out, store.Delivery{EndpointID: ep.ID, Format: store.FormatWebhook})
		}
	}
	for _, t := range targets {
		out = append(out, store.Delivery{Format: t.Format, URL: t.URL, Data: t.Data})
	}
	return out
}

// attempt makes one attempt of a claimed delivery and records it.
func (d *Dispatcher) attempt(ctx context.Context, c *store.Claim) {
	start := d.opt.Now()
	res := store.AttemptResult{Claim: c, FailingAfter: d.opt.FailingAfter}
	a := &res.Attempt
	a.N, a.At = c.Delivery.Attempts+1, start
	a.URL = c.Delivery.URL
	if c.Endpoint != nil {
		a.URL = c.Endpoint.URL
	}
	format := c.Delivery.Format
	result := d.send(ctx, c, &res)
	if !res.Delivered && !res.GiveUp {
		sched := *d.opt.Schedule
		if s, ok := d.opt.Formats[format].(Scheduler); ok {
			sched = s.Schedule()
		}
		next, ok := sched.Next(c.Delivery.Retries, c.Delivery.SeriesAt, start.Add(a.Duration))
		if ok {
			res.NextAt = next
		} else {
			res.GiveUp, result = true, "failed"
		}
	}
	if !d.record(res) {
		result = "lost"
	}
	if d.opt.Observer != nil {
		d.opt.Observer.ObserveDelivery(format, result, a.Duration)
	}
	if res.Delivered {
		d.log.Debug("notify: delivered", "event", c.Event.ID, "delivery", c.Delivery.ID, "url", a.URL, "attempt", a.N)
	} else {
		d.log.Info("notify: attempt failed", "event", c.Event.ID, "delivery", c.Delivery.ID, "format", format,
			"url", a.URL, "attempt", a.N, "status", a.Status, "err", a.Error, "given_up", res.GiveUp)
	}
}

// send encodes and posts a delivery, filling res; it returns the metrics
// result.
func (d *Dispatcher) send(ctx context.Context, c *store.Claim, res *store.AttemptResult) string {
	a := &res.Attempt
	f := d.opt.Formats[c.Delivery.Format]
	if f == nil {
		a.Error = fmt.Sprintf("no encoder for format %q", c.Delivery.Format)
		res.GiveUp = true
		return "failed"
	}
	if err := CheckURL(a.URL, d.opt.AllowPrivate); err != nil {
		a.Error = "refused URL: " + err.Error()
		res.GiveUp = true
		return "failed"
	}
	req, err := f.Encode(ctx, Message{Event: c.Event, Delivery: c.Delivery, Endpoint: c.Endpoint, At: a.At})
	if err != nil {
		a.Error = "encode: " + err.Error()
		res.GiveUp = isPermanent(err)
		return "retry"
	}
	a.RequestHeaders = headerJSON(req.Header)
	a.RequestBody = req.Body
	if req.LogBody != nil {
		a.RequestBody = req.LogBody
	}
	rctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(rctx, http.MethodPost, a.URL, bytes.NewReader(req.Body))
	if err != nil {
		a.Error = "request: " + err.Error()
		res.GiveUp = true
		return "failed"
	}
	hreq.Header = req.Header.Clone()
	begin := time.Now()
	resp, err := d.client.Do(hreq)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
		resp.Body.Close()
		a.Status = resp.StatusCode
	}
	a.Duration = time.Since(begin).Truncate(time.Microsecond)
	a.ResponseBody = body[:min(len(body), maxLoggedResponse)]
	switch {
	case err != nil && a.Status == 0:
		a.Error = sendError(err)
		return "retry"
	case f.Accepted(a.Status, body):
		res.Delivered = true
		return "delivered"
	case a.Status == http.StatusGone:
		a.Error = "HTTP 410 Gone"
		if c.Endpoint != nil {
			// The receiver says the endpoint is gone for good: stop
			// sending to it until an operator enables it again.
			res.DisableEndpoint = "gone"
			return "disabled"
		}
		res.GiveUp = true
		return "failed"
	case a.Status >= 300 && a.Status < 400:
		a.Error = fmt.Sprintf("HTTP %d: redirects are not followed (Location: %s)", a.Status, truncate(resp.Header.Get("Location"), 200))
	case a.Status >= 200 && a.Status < 300:
		a.Error = fmt.Sprintf("HTTP %d without the expected acknowledgement", a.Status)
	default:
		a.Error = fmt.Sprintf("HTTP %d", a.Status)
	}
	return "retry"
}

// record stores an attempt's outcome, retrying transient conflicts. It
// reports whether the claim held.
func (d *Dispatcher) record(res store.AttemptResult) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for try := 0; ; try++ {
		held, err := d.st.RecordAttempt(ctx, res)
		if err == nil {
			if !held {
				d.log.Warn("notify: claim expired before the attempt was recorded", "delivery", res.Claim.Delivery.ID)
			}
			return held
		}
		if !errors.Is(err, store.ErrRetry) || try >= 10 || ctx.Err() != nil {
			// The claim expires and the delivery is attempted again.
			d.log.Error("notify: record attempt", "delivery", res.Claim.Delivery.ID, "err", err)
			return false
		}
		time.Sleep(time.Duration(try+1) * 10 * time.Millisecond)
	}
}

// sendError describes a failed request without Go's wrapping noise.
func sendError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.HasPrefix(err.Error(), "Post ") {
		err = ue.Unwrap()
	}
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, ErrPrivateAddress):
		return "refused: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &te) && te.Timeout():
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// headerJSON renders sent headers for the log (json.Marshal sorts the
// names).
func headerJSON(h http.Header) []byte {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	b, _ := json.Marshal(m)
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
