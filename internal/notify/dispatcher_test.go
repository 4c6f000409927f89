package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
)

// fast retries for tests: 20 ms apart for an hour.
var fast = notify.Schedule{Delays: []time.Duration{20 * time.Millisecond}, Window: time.Hour}

// plain hides a Format's own schedule, so that the test's fast one applies.
type plain struct{ notify.Format }

// env is a ledger engine whose transfers emit events for subscribed
// merchants, a Service and a Dispatcher, over one store.
type env struct {
	t    *testing.T
	st   store.Store
	eng  *ledger.Engine
	subs *notify.Subscriptions
	svc  *notify.Service
	disp *notify.Dispatcher
}

func newEnv(t *testing.T, st store.Store, opt notify.Options) *env {
	t.Helper()
	e := &env{t: t, st: st}
	e.subs = notify.NewSubscriptions(st, nil)
	if opt.Schedule == nil {
		opt.Schedule = &fast
	}
	if opt.Poll == 0 {
		opt.Poll = 10 * time.Millisecond
	}
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	e.disp = notify.NewDispatcher(st, opt)
	e.svc = notify.NewService(st, notify.ServiceOptions{Subscriptions: e.subs, Nudge: e.disp.Nudge, AllowPrivate: true})
	e.eng = ledger.New(st, ledger.Options{
		ExpiryInterval: -1,
		TransferEvent:  e.subs.TransferEvent,
		OnBatch: func(int, int, time.Duration, error) {
			if e.subs.TakeEmitted() {
				e.disp.Nudge()
			}
		},
	})
	t.Cleanup(func() { e.eng.Close(context.Background()) })
	return e
}

// run starts the dispatcher until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.disp.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *env) endpoint(url string, types ...string) store.WebhookEndpoint {
	e.t.Helper()
	ep, err := e.svc.CreateEndpoint(context.Background(), 1, notify.EndpointInput{URL: &url, EventTypes: types})
	if err != nil {
		e.t.Fatalf("CreateEndpoint: %v", err)
	}
	return ep
}

func (e *env) accounts() (mint, wallet int64) {
	e.t.Helper()
	ctx := context.Background()
	m, _, err := e.eng.CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "USD", Name: "mint", Normal: store.Debit, Unlimited: true})
	if err != nil {
		e.t.Fatal(err)
	}
	w, _, err := e.eng.CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "USD", Name: "wallet"})
	if err != nil {
		e.t.Fatal(err)
	}
	return m.ID, w.ID
}

func (e *env) transfer(r ledger.TransferRequest) store.Transfer {
	e.t.Helper()
	res, err := e.eng.Transfer(context.Background(), 1, []ledger.TransferRequest{r})
	if err != nil || res[0].Err != nil {
		e.t.Fatalf("Transfer(%+v) = %v, %v", r, res, err)
	}
	return res[0].Transfer
}

// emit writes events straight into the outbox.
func emit(t *testing.T, st store.Store, evs ...store.Event) {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for i := range evs {
		if evs[i].ID == "" {
			evs[i].ID = store.NewEventID()
		}
		if evs[i].MerchantID == 0 {
			evs[i].MerchantID = 1
		}
		if evs[i].CreatedAt.IsZero() {
			evs[i].CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
		}
		if evs[i].Payload == nil {
			evs[i].Payload = []byte(`{}`)
		}
	}
	if err := tx.InsertEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deliveries(t *testing.T, st store.Store, f store.DeliveryFilter) []store.Delivery {
	t.Helper()
	ds, err := st.Deliveries(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// receiver is a webhook endpoint that checks every signature, fails the
// first requests it is told to, and remembers what it accepted.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret atomic.Value // string
	mu     sync.Mutex
	fail   int // answer 500 to this many requests first
	status int // then answer this (0: 200)
	hits   int
	ids    map[string]int      // webhook-id → times accepted
	bodies map[string][]byte   // webhook-id → body
	order  map[string][]string // subject → event types accepted, in order
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{t: t, fail: fail, ids: map[string]int{}, bodies: map[string][]byte{}, order: map[string][]string{}}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if s, _ := r.secret.Load().(string); s != "" {
		if err := notify.Verify(s, req.Header, body, time.Minute); err != nil {
			r.t.Errorf("receiver: %v (headers %v)", err, req.Header)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits++
	if r.hits <= r.fail {
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	}
	if r.status != 0 && r.status != http.StatusOK {
		w.WriteHeader(r.status)
		return
	}
	id := req.Header.Get("webhook-id")
	r.ids[id]++
	if r.ids[id] > 1 {
		return // a duplicate: acknowledged and dropped
	}
	r.bodies[id] = body
	var msg struct {
		Type string `json:"type"`
		Data struct {
			ID        int64 `json:"id"`
			PendingID int64 `json:"pending_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		r.t.Errorf("receiver: body %s: %v", body, err)
	}
	subject := msg.Data.ID
	if msg.Data.PendingID != 0 {
		subject = msg.Data.PendingID
	}
	key := fmt.Sprint(subject)
	r.order[key] = append(r.order[key], msg.Type)
}

func (r *receiver) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// A receiver that fails the first attempts gets every event once (after
// dropping duplicates by webhook-id), signed, and in order per subject.
func TestDeliversOnceInOrderAfterFailures(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, notify.Options{AllowPrivate: true, Workers: 4})
		rcv := newReceiver(t, 5)
		mint, wallet := e.accounts()
		// Nobody listens yet: no event.
		e.transfer(ledger.TransferRequest{Key: "before", DebitAccountID: mint, CreditAccountID: wallet, Amount: 100})
		ep := e.endpoint(rcv.srv.URL+"/hooks", "transfer.*")
		rcv.secret.Store(ep.Secret)

		var want []int64
		for i := range 3 {
			want = append(want, e.transfer(ledger.TransferRequest{Key: fmt.Sprint("t", i), DebitAccountID: mint, CreditAccountID: wallet, Amount: 1050}).ID)
		}
		hold := e.transfer(ledger.TransferRequest{Key: "hold", DebitAccountID: wallet, CreditAccountID: mint, Amount: 500, Pending: true})
		e.transfer(ledger.TransferRequest{Key: "post", PostPendingID: hold.ID, Amount: 200})
		hold2 := e.transfer(ledger.TransferRequest{Key: "hold2", DebitAccountID: wallet, CreditAccountID: mint, Amount: 300, Pending: true})
		e.transfer(ledger.TransferRequest{Key: "void", VoidPendingID: hold2.ID})
		// A replay is no new transfer: no new event.
		e.transfer(ledger.TransferRequest{Key: "t0", DebitAccountID: mint, CreditAccountID: wallet, Amount: 1050})

		e.run()
		waitFor(t, 30*time.Second, "7 events accepted", func() bool { return rcv.accepted() >= 7 })
		waitFor(t, 10*time.Second, "deliveries recorded", func() bool {
			return len(deliveries(t, st, store.DeliveryFilter{State: store.DeliveryDelivered})) == 7
		})
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.ids) != 7 {
			t.Errorf("accepted %d distinct events, want 7", len(rcv.ids))
		}
		for id, n := range rcv.ids {
			if n != 1 {
				t.Errorf("event %s accepted %d times", id, n)
			}
		}
		for _, id := range want {
			if got := rcv.order[fmt.Sprint(id)]; len(got) != 1 || got[0] != notify.EventTransferPosted {
				t.Errorf("transfer %d: events %v, want [transfer.posted]", id, got)
			}
		}
		if got := strings.Join(rcv.order[fmt.Sprint(hold.ID)], ","); got != "transfer.pending,transfer.posted" {
			t.Errorf("hold %d: events %s, want pending then posted", hold.ID, got)
		}
		if got := strings.Join(rcv.order[fmt.Sprint(hold2.ID)], ","); got != "transfer.pending,transfer.voided" {
			t.Errorf("hold %d: events %s, want pending then voided", hold2.ID, got)
		}
		// The payload is the native API's transfer.
		for _, b := range rcv.bodies {
			var msg struct {
				Type      string `json:"type"`
				Timestamp string `json:"timestamp"`
				Data      struct {
					Amount string `json:"amount"`
					Asset  string `json:"asset"`
				} `json:"data"`
			}
			_ = json.Unmarshal(b, &msg)
			if msg.Data.Asset != "USD" || !strings.Contains(msg.Data.Amount, ".") || msg.Timestamp == "" {
				t.Errorf("body %s: want the transfer with a decimal amount", b)
			}
		}
		// The log shows the refused attempts, numbered.
		failed := 0
		for _, d := range deliveries(t, st, store.DeliveryFilter{}) {
			as, err := st.Attempts(context.Background(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range as {
				if a.N != i+1 || a.URL != rcv.srv.URL+"/hooks" || !bytes.Contains(a.RequestHeaders, []byte("Webhook-Signature")) {
					t.Errorf("attempt %+v", a)
				}
				if a.Status == 500 {
					failed++
				}
			}
			if d.Attempts != len(as) {
				t.Errorf("delivery %d: %d attempts counted, %d logged", d.ID, d.Attempts, len(as))
			}
		}
		if failed != 5 {
			t.Errorf("%d failed attempts logged, want 5", failed)
		}
	})
}

// Transfer events exist only for merchants subscribed to them.
func TestTransferEventsOnlyWhenSubscribed(t *testing.T) {
	st := backendsSQLite(t)
	e := newEnv(t, st, notify.Options{})
	mint, wallet := e.accounts()
	count := func() int {
		evs, err := st.Events(context.Background(), 0, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	e.transfer(ledger.TransferRequest{Key: "a", DebitAccountID: mint, CreditAccountID: wallet, Amount: 1})
	e.endpoint("http://127.0.0.1:1/", "order.*")
	e.transfer(ledger.TransferRequest{Key: "b", DebitAccountID: mint, CreditAccountID: wallet, Amount: 1})
	if n := count(); n != 0 {
		t.Fatalf("%d events without a transfer subscription, want 0", n)
	}
	e.endpoint("http://127.0.0.1:1/", "transfer.posted")
	e.transfer(ledger.TransferRequest{Key: "c", DebitAccountID: mint, CreditAccountID: wallet, Amount: 1})
	e.transfer(ledger.TransferRequest{Key: "d", DebitAccountID: wallet, CreditAccountID: mint, Amount: 1, Pending: true})
	evs, _ := st.Events(context.Background(), 0, 0, 100)
	if len(evs) != 1 || evs[0].Type != notify.EventTransferPosted || evs[0].MerchantID != 1 || !strings.HasPrefix(evs[0].ID, "evt_") {
		t.Errorf("events = %+v, want one transfer.posted", evs)
	}
}

func backendsSQLite(t *testing.T) store.Store { return sqlite.OpenTest(t) }

// Two dispatchers on one PostgreSQL database never send one event twice at
// the same time, deliver everything, and keep each subject's order.
func TestTwoDispatchersOnePostgres(t *testing.T) {
	dsn := postgres.NewTestDatabase(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	st1, st2 := open(), open()
	if err := st1.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	const subjects, perSubject = 20, 15
	var (
		mu         sync.Mutex
		inflight   = map[string]bool{}
		overlaps   int
		accepted   = map[string]int{}
		lastN      = map[string]int{}
		outOfOrder int
		hits       atomic.Int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		mu.Lock()
		if inflight[id] {
			overlaps++
		}
		inflight[id] = true
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
		fail := rand.IntN(4) == 0
		mu.Lock()
		defer mu.Unlock()
		delete(inflight, id)
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		accepted[id]++
		var msg struct {
			Data struct {
				S string `json:"s"`
				N int    `json:"n"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &msg)
		if accepted[id] == 1 {
			if msg.Data.N != lastN[msg.Data.S]+1 {
				outOfOrder++
			}
			lastN[msg.Data.S] = msg.Data.N
		}
	}))
	t.Cleanup(srv.Close)

	svc := notify.NewService(st1, notify.ServiceOptions{AllowPrivate: true})
	url := srv.URL
	if _, err := svc.CreateEndpoint(context.Background(), 1, notify.EndpointInput{URL: &url, EventTypes: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, st := range []store.Store{st1, st2} {
		d := notify.NewDispatcher(st, notify.Options{AllowPrivate: true, Workers: 8, Poll: 5 * time.Millisecond, Schedule: &fast})
		wg.Go(func() { d.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	// Events arrive while both run, round-robin over subjects.
	for n := 1; n <= perSubject; n++ {
		var evs []store.Event
		for s := range subjects {
			evs = append(evs, store.Event{Type: "test.event", Subject: fmt.Sprint("s", s),
				Payload: fmt.Appendf(nil, `{"s":"s%d","n":%d}`, s, n)})
		}
		emit(t, []store.Store{st1, st2}[n%2], evs...)
	}
	total := subjects * perSubject
	waitFor(t, 60*time.Second, "every event accepted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted) == total
	})
	mu.Lock()
	defer mu.Unlock()
	if overlaps != 0 {
		t.Errorf("%d requests overlapped another for the same event", overlaps)
	}
	if outOfOrder != 0 {
		t.Errorf("%d events arrived out of their subject's order", outOfOrder)
	}
	for id, n := range accepted {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
	}
	t.Logf("%d events, %d requests", total, hits.Load())
}

// A 410 Gone disables the endpoint; enabling it again sends what waited.
func TestGoneDisablesEndpoint(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, notify.Options{AllowPrivate: true})
		rcv := newReceiver(t, 0)
		rcv.status = http.StatusGone
		ep := e.endpoint(rcv.srv.URL, "*")
		emit(t, st, store.Event{Type: "a.b", Subject: "x"}, store.Event{Type: "a.b", Subject: "x"})
		e.run()
		ctx := context.Background()
		waitFor(t, 10*time.Second, "the endpoint disabled", func() bool {
			got, _ := e.svc.Endpoint(ctx, 1, ep.ID)
			return !got.Enabled && got.DisabledReason == "gone"
		})
		time.Sleep(100 * time.Millisecond)
		rcv.mu.Lock()
		hits := rcv.hits
		rcv.status = 0
		rcv.mu.Unlock()
		if hits != 1 {
			t.Errorf("%d requests to a gone endpoint, want 1", hits)
		}
		on := true
		if _, err := e.svc.UpdateEndpoint(ctx, 1, ep.ID, notify.EndpointInput{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "both delivered", func() bool { return rcv.accepted() == 2 })
	})
}

// After repeated failures an endpoint is failing; when it answers again it
// recovers by itself, and what waited for it is sent at once.
func TestFailingEndpointRecovers(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		slow := notify.Schedule{Delays: []time.Duration{time.Hour}, Window: 72 * time.Hour}
		e := newEnv(t, st, notify.Options{AllowPrivate: true, FailingAfter: 3, Schedule: &slow})
		rcv := newReceiver(t, 3)
		ep := e.endpoint(rcv.srv.URL, "*")
		emit(t, st, store.Event{Type: "a"}, store.Event{Type: "b"}, store.Event{Type: "c"})
		e.run()
		ctx := context.Background()
		waitFor(t, 10*time.Second, "the endpoint failing", func() bool {
			got, _ := e.svc.Endpoint(ctx, 1, ep.ID)
			return got.FailingSince != nil && got.Failures == 3
		})
		// Retries are an hour away; a new event reaches it now, and the
		// endpoint's recovery brings the others forward.
		emit(t, st, store.Event{Type: "d"})
		e.disp.Nudge()
		waitFor(t, 10*time.Second, "all four delivered", func() bool { return rcv.accepted() == 4 })
		got, _ := e.svc.Endpoint(ctx, 1, ep.ID)
		if got.FailingSince != nil || got.Failures != 0 {
			t.Errorf("endpoint after recovery: failing since %v, %d failures", got.FailingSince, got.Failures)
		}
	})
}

// Redirects are answers (failures), never followed.
func TestRedirectNotFollowed(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		var followed atomic.Int64
		target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
		t.Cleanup(target.Close)
		redirect := httptest.NewServer(http.RedirectHandler(target.URL+"/elsewhere", http.StatusFound))
		t.Cleanup(redirect.Close)
		e := newEnv(t, st, notify.Options{AllowPrivate: true})
		e.endpoint(redirect.URL, "*")
		emit(t, st, store.Event{Type: "a"})
		e.run()
		var as []store.Attempt
		waitFor(t, 10*time.Second, "an attempt", func() bool {
			ds := deliveries(t, st, store.DeliveryFilter{})
			if len(ds) == 0 {
				return false
			}
			as, _ = st.Attempts(context.Background(), ds[0].ID)
			return len(as) > 0
		})
		if as[0].Status != http.StatusFound || !strings.Contains(as[0].Error, "redirects are not followed") {
			t.Errorf("attempt = %d %q", as[0].Status, as[0].Error)
		}
		if followed.Load() != 0 {
			t.Errorf("the redirect was followed")
		}
	})
}

// Loopback and private addresses are refused unless allowed, on the
// address actually dialled.
func TestPrivateAddressRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	// The dial check: "localhost" resolves to a loopback address.
	c := notify.NewHTTPClient(5*time.Second, false)
	_, err := c.Post("http://localhost:"+port+"/", "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Errorf("POST to localhost = %v, want refused", err)
	}
	if _, err := notify.NewHTTPClient(5*time.Second, true).Post(srv.URL, "application/json", strings.NewReader("{}")); err != nil {
		t.Errorf("POST with private addresses allowed = %v", err)
	}

	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, notify.Options{AllowPrivate: false})
		if _, err := e.svc.CreateEndpoint(context.Background(), 1, notify.EndpointInput{URL: ptr(srv.URL), EventTypes: []string{"*"}}); err != nil {
			t.Fatal(err) // the test's Service allows it; the dispatcher does not
		}
		emit(t, st, store.Event{Type: "a"})
		e.run()
		waitFor(t, 10*time.Second, "the delivery refused", func() bool {
			ds := deliveries(t, st, store.DeliveryFilter{})
			return len(ds) == 1 && ds[0].State == store.DeliveryFailed && strings.Contains(ds[0].LastError, "not a public address")
		})
	})
	if hits.Load() != 1 {
		t.Errorf("receiver hit %d times, want 1 (the allowed POST only)", hits.Load())
	}
	// And the Service refuses such URLs by default.
	svc := notify.NewService(nil, notify.ServiceOptions{})
	_, err = svc.CreateEndpoint(context.Background(), 1, notify.EndpointInput{URL: ptr(srv.URL), EventTypes: []string{"*"}})
	if ie, ok := err.(*notify.InputError); !ok || ie.Field != "url" {
		t.Errorf("CreateEndpoint(loopback URL) = %v, want an input error on url", err)
	}
}

func ptr[T any](v T) *T { return &v }

// An answer's body is read up to a limit, never to its end.
func TestResponseBodyLimit(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		const huge = 256 << 20
		var written atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(huge))
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for written.Load() < huge {
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		t.Cleanup(srv.Close)
		e := newEnv(t, st, notify.Options{AllowPrivate: true})
		e.endpoint(srv.URL, "*")
		emit(t, st, store.Event{Type: "a"})
		e.run()
		waitFor(t, 20*time.Second, "delivered", func() bool {
			return len(deliveries(t, st, store.DeliveryFilter{State: store.DeliveryDelivered})) == 1
		})
		d := deliveries(t, st, store.DeliveryFilter{})[0]
		as, _ := st.Attempts(context.Background(), d.ID)
		if len(as) != 1 || len(as[0].ResponseBody) > 4<<10 {
			t.Errorf("attempts %d, logged body %d bytes", len(as), len(as[0].ResponseBody))
		}
		if w := written.Load(); w >= huge {
			t.Errorf("the whole %d-byte body was sent", w)
		}
	})
}

// A delivery failing past its window is given up; redelivering what failed
// since then sends it.
func TestGiveUpThenRedeliverFailed(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		short := notify.Schedule{Delays: []time.Duration{30 * time.Millisecond}, Window: 150 * time.Millisecond}
		e := newEnv(t, st, notify.Options{AllowPrivate: true, Schedule: &short})
		rcv := newReceiver(t, 1<<30)
		e.endpoint(rcv.srv.URL, "*")
		since := time.Now().Add(-time.Second)
		emit(t, st, store.Event{Type: "a", Subject: "s"})
		e.run()
		waitFor(t, 10*time.Second, "given up", func() bool {
			ds := deliveries(t, st, store.DeliveryFilter{})
			return len(ds) == 1 && ds[0].State == store.DeliveryFailed
		})
		d := deliveries(t, st, store.DeliveryFilter{})[0]
		if d.Attempts < 1 || d.DoneAt == nil || d.LastStatus != 500 {
			t.Errorf("given-up delivery = %+v", d)
		}
		rcv.mu.Lock()
		rcv.fail = 0
		rcv.mu.Unlock()
		n, err := e.svc.RedeliverFailed(context.Background(), 1, since)
		if err != nil || n != 1 {
			t.Fatalf("RedeliverFailed = %d, %v", n, err)
		}
		waitFor(t, 10*time.Second, "delivered", func() bool { return rcv.accepted() == 1 })
		// And one event again by hand, though delivered.
		if n, err := e.svc.RedeliverEvent(context.Background(), 1, d.EventID); err != nil || n != 1 {
			t.Fatalf("RedeliverEvent = %d, %v", n, err)
		}
		waitFor(t, 10*time.Second, "sent again", func() bool {
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			return rcv.ids[d.EventID] == 2
		})
	})
}

// Dialect targets: a MugglePay callback (acknowledged only by
// {"status":200}) and a signed Paykassma postback, emitted by a ledger
// operation together with its other changes.
func TestDialectTargets(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		var mu sync.Mutex
		var mpBodies, pkBodies [][]byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			switch r.URL.Path {
			case "/mp":
				mpBodies = append(mpBodies, body)
				if len(mpBodies) == 1 {
					io.WriteString(w, "OK") // not MugglePay's acknowledgement
					return
				}
				io.WriteString(w, `{"status":200}`)
			case "/pk":
				pkBodies = append(pkBodies, body)
				io.WriteString(w, `{"status":"ok"}`)
			}
		}))
		t.Cleanup(srv.Close)
		formats := map[string]notify.Format{
			store.FormatMugglePay: plain{notify.MugglePay{}},
			store.FormatPaykassma: notify.Paykassma{Keys: func(context.Context, int64) (string, string, error) { return "AK", "PK", nil }},
		}
		e := newEnv(t, st, notify.Options{AllowPrivate: true, Formats: formats})
		e.run()
		mp := `{"merchant_order_id":"42","order_id":"o-1","status":"PAID","price_amount":"9.90","price_currency":"USD","created_at":"2025-01-02T03:04:05.678Z"}`
		pk := `{"order_id":"7fa13dbc3b79e05e","status":"Success","amount":"6008.39"}`
		_, err := ledger.Do(context.Background(), e.eng, 1, func(ctx context.Context, x *ledger.Exec) (struct{}, error) {
			return struct{}{}, notify.Emit(ctx, x, store.Event{Type: "order.paid", Subject: "order:1", Payload: []byte(`{"id":"o-1"}`)},
				store.Target{Format: store.FormatMugglePay, URL: srv.URL + "/mp", Data: []byte(mp)},
				store.Target{Format: store.FormatPaykassma, URL: srv.URL + "/pk", Data: []byte(pk)})
		})
		if err != nil {
			t.Fatal(err)
		}
		e.disp.Nudge()
		waitFor(t, 10*time.Second, "both delivered", func() bool {
			return len(deliveries(t, st, store.DeliveryFilter{State: store.DeliveryDelivered})) == 2
		})
		mu.Lock()
		defer mu.Unlock()
		wantMP := `{"merchant_order_id":"42","order_id":"o-1","status":"PAID","price_amount":9.90,"price_currency":"USD",` +
			`"pay_amount":9.90,"pay_currency":"USD","created_at":"2025-01-02T03:04:05.678Z","created_at_t":1735787045678}`
		if len(mpBodies) != 2 || string(mpBodies[1]) != wantMP {
			t.Errorf("mugglepay bodies = %q, want two of %s", mpBodies, wantMP)
		}
		wantPK := `{"access_key":"AK","signature":"d97dc8af2dea19017b40c609e19835173b55a353","transactions":[{"order_id":"7fa13dbc3b79e05e","status":"Success","amount":6008.39}]}`
		if len(pkBodies) != 1 || string(pkBodies[0]) != wantPK {
			t.Errorf("paykassma bodies = %q, want %s", pkBodies, wantPK)
		}
	})
}

// Run returns once its context ends and the attempts under way finish.
func TestRunStops(t *testing.T) {
	st := backendsSQLite(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(func() { close(release); srv.Close() })
	e := newEnv(t, st, notify.Options{AllowPrivate: true, Timeout: 300 * time.Millisecond})
	e.endpoint(srv.URL, "*")
	emit(t, st, store.Event{Type: "a"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.disp.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	ds := deliveries(t, st, store.DeliveryFilter{})
	if len(ds) != 1 || ds[0].Attempts != 1 || !strings.Contains(ds[0].LastError, "timeout") {
		t.Errorf("delivery after stop = %+v, want its timed-out attempt recorded", ds)
	}
}
