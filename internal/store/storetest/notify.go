package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// The outbox half of the suite: webhook endpoints, fan-out of events into
// deliveries, claims (exclusive, ordered per subject and destination,
// expiring), attempts and their log, endpoint health, redelivery.

// notifyTests are registered in Run.
var notifyTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"WebhookEndpoints", testWebhookEndpoints},
	{"FanOut", testFanOut},
	{"TargetsFollowSavepoint", testTargetsFollowSavepoint},
	{"ClaimOrder", testClaimOrder},
	{"ClaimLease", testClaimLease},
	{"ClaimConcurrent", testClaimConcurrent},
	{"EndpointHealth", testEndpointHealth},
	{"DeliveryLog", testDeliveryLog},
	{"Redeliver", testRedeliver},
	{"RedeliverInFlight", testRedeliverInFlight},
}

// emit writes events (and targets, by event index) in one batch
// transaction, as the ledger does.
func emit(t *testing.T, s store.Store, evs []store.Event, targets map[int][]store.Target) []store.Event {
	t.Helper()
	ctx := t.Context()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
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
			evs[i].CreatedAt = t0
		}
		if evs[i].Payload == nil {
			evs[i].Payload = []byte(`{"n": 1}`)
		}
		if ts := targets[i]; ts != nil {
			if err := tx.InsertTargets(ctx, evs[i].ID, ts); err != nil {
				t.Fatalf("InsertTargets: %v", err)
			}
		}
	}
	if err := tx.InsertEvents(ctx, evs); err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return evs
}

func newEndpoint(t *testing.T, s store.Store, merchant int64, types ...string) store.WebhookEndpoint {
	t.Helper()
	ep := store.WebhookEndpoint{MerchantID: merchant, URL: "https://example.com/hook", EventTypes: types,
		Secret: "whsec_c2VjcmV0", Enabled: true, CreatedAt: t0, UpdatedAt: t0}
	if err := s.InsertWebhookEndpoint(t.Context(), &ep); err != nil {
		t.Fatalf("InsertWebhookEndpoint: %v", err)
	}
	return ep
}

// routeAll sends every event to every endpoint it is given, and to its
// targets.
func routeAll(ev store.Event, ts []store.Target, eps []store.WebhookEndpoint) []store.Delivery {
	var out []store.Delivery
	for _, ep := range eps {
		out = append(out, store.Delivery{EndpointID: ep.ID, Format: store.FormatWebhook})
	}
	for _, tg := range ts {
		out = append(out, store.Delivery{Format: tg.Format, URL: tg.URL, Data: tg.Data})
	}
	return out
}

func fanOut(t *testing.T, s store.Store, at time.Time) int {
	t.Helper()
	n, err := s.FanOut(t.Context(), at, 100, routeAll)
	if err != nil {
		t.Fatalf("FanOut: %v", err)
	}
	return n
}

func claim(t *testing.T, s store.Store, at time.Time, limit int) []store.Claim {
	t.Helper()
	cs, err := s.ClaimDeliveries(t.Context(), at, time.Minute, limit)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return cs
}

func claimedEvents(cs []store.Claim) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Event.ID)
	}
	return out
}

// record records an attempt of c at at: delivered, or failed and due
// again at next.
func record(t *testing.T, s store.Store, c *store.Claim, at time.Time, delivered bool, next time.Time) bool {
	t.Helper()
	status := 500
	if delivered {
		status = 200
	}
	held, err := s.RecordAttempt(t.Context(), store.AttemptResult{
		Claim:     c,
		Attempt:   store.Attempt{N: c.Delivery.Attempts + 1, At: at, URL: "https://example.com/hook", Status: status},
		Delivered: delivered, NextAt: next, FailingAfter: 3,
	})
	if err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	return held
}

func deliveriesOf(t *testing.T, s store.Store, f store.DeliveryFilter) []store.Delivery {
	t.Helper()
	ds, err := s.Deliveries(t.Context(), f)
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	return ds
}

func testWebhookEndpoints(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	a := newEndpoint(t, s, 1, "order.*", "transfer.posted")
	b := newEndpoint(t, s, m2, "*")
	c := newEndpoint(t, s, 1)
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("ids %d, %d: want distinct and set", a.ID, b.ID)
	}
	got, err := s.WebhookEndpoint(ctx, a.ID)
	if err != nil {
		t.Fatalf("WebhookEndpoint: %v", err)
	}
	want := a
	if d := diff(got, want); d != "" {
		t.Errorf("WebhookEndpoint(%d):%s", a.ID, d)
	}
	if got, _ := s.WebhookEndpoint(ctx, c.ID); got.EventTypes == nil || len(got.EventTypes) != 0 {
		t.Errorf("endpoint without types: EventTypes = %#v, want empty", got.EventTypes)
	}
	list := func(m int64) []int64 {
		eps, err := s.WebhookEndpoints(ctx, m)
		if err != nil {
			t.Fatalf("WebhookEndpoints(%d): %v", m, err)
		}
		var ids []int64
		for _, ep := range eps {
			ids = append(ids, ep.ID)
		}
		return ids
	}
	if ids := list(1); !slices.Equal(ids, []int64{a.ID, c.ID}) {
		t.Errorf("WebhookEndpoints(1) = %v, want %v", ids, []int64{a.ID, c.ID})
	}
	if ids := list(0); !slices.Equal(ids, []int64{a.ID, b.ID, c.ID}) {
		t.Errorf("WebhookEndpoints(0) = %v", ids)
	}

	// A rotation keeps the previous secret until it expires.
	exp := t0.Add(24 * time.Hour)
	upd := a
	upd.URL, upd.Description, upd.EventTypes = "https://example.com/v2", "orders", []string{"order.paid"}
	upd.PrevSecret, upd.PrevExpiresAt, upd.Secret = a.Secret, &exp, "whsec_bmV3"
	upd.UpdatedAt = t0.Add(time.Minute)
	if err := s.UpdateWebhookEndpoint(ctx, upd); err != nil {
		t.Fatalf("UpdateWebhookEndpoint: %v", err)
	}
	got, _ = s.WebhookEndpoint(ctx, a.ID)
	if d := diff(got, upd); d != "" {
		t.Errorf("after update:%s", d)
	}
	if err := s.UpdateWebhookEndpoint(ctx, store.WebhookEndpoint{ID: 999999, UpdatedAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateWebhookEndpoint(missing) = %v, want ErrNotFound", err)
	}

	// Deleting cancels pending deliveries and hides the endpoint.
	emit(t, s, []store.Event{{Type: "order.paid", Subject: "order:1"}}, nil)
	fanOut(t, s, t0)
	if err := s.DeleteWebhookEndpoint(ctx, c.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("DeleteWebhookEndpoint: %v", err)
	}
	if _, err := s.WebhookEndpoint(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("WebhookEndpoint(deleted) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, c.ID, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteWebhookEndpoint twice = %v, want ErrNotFound", err)
	}
	if ids := list(1); !slices.Equal(ids, []int64{a.ID}) {
		t.Errorf("WebhookEndpoints(1) after delete = %v", ids)
	}
	ds := deliveriesOf(t, s, store.DeliveryFilter{EndpointID: c.ID})
	if len(ds) != 1 || ds[0].State != store.DeliveryCancelled || ds[0].DoneAt == nil {
		t.Errorf("deliveries of the deleted endpoint = %+v, want one cancelled", ds)
	}
	if cs := claim(t, s, t0.Add(time.Hour), 10); len(cs) != 1 || cs[0].Delivery.EndpointID != a.ID {
		t.Errorf("claims after delete = %+v, want only endpoint %d's", cs, a.ID)
	}
}

func testFanOut(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	ep1 := newEndpoint(t, s, 1, "*")
	ep2 := newEndpoint(t, s, m2, "*")
	off := newEndpoint(t, s, 1, "*")
	off.Enabled, off.UpdatedAt = false, t0
	if err := s.UpdateWebhookEndpoint(ctx, off); err != nil {
		t.Fatal(err)
	}
	tg := store.Target{Format: store.FormatMugglePay, URL: "https://shop.example/cb?x=1", Data: []byte(`{"status":"PAID"}`)}
	evs := emit(t, s, []store.Event{
		{Type: "order.paid", Subject: "order:1"},
		{Type: "order.paid", Subject: "order:2", MerchantID: m2},
		{Type: "x.y"},
	}, map[int][]store.Target{0: {tg}})

	var seen []string
	n, err := s.FanOut(ctx, t0, 2, func(ev store.Event, ts []store.Target, eps []store.WebhookEndpoint) []store.Delivery {
		seen = append(seen, ev.ID)
		var epIDs []int64
		for _, ep := range eps {
			epIDs = append(epIDs, ep.ID)
			if ep.MerchantID != ev.MerchantID {
				t.Errorf("event of merchant %d routed with endpoint of merchant %d", ev.MerchantID, ep.MerchantID)
			}
		}
		switch ev.ID {
		case evs[0].ID:
			if !slices.Equal(epIDs, []int64{ep1.ID}) {
				t.Errorf("endpoints of event 0 = %v, want [%d] (the disabled one left out)", epIDs, ep1.ID)
			}
			if len(ts) != 1 || ts[0].Format != tg.Format || ts[0].URL != tg.URL || !bytes.Equal(ts[0].Data, tg.Data) {
				t.Errorf("targets of event 0 = %+v, want %+v", ts, tg)
			}
			if ev.Type != "order.paid" || ev.Subject != "order:1" || !jsonEq(ev.Payload, []byte(`{"n":1}`)) || !ev.CreatedAt.Equal(t0) || ev.Seq != evs[0].Seq {
				t.Errorf("event 0 = %+v", ev)
			}
		case evs[1].ID:
			if !slices.Equal(epIDs, []int64{ep2.ID}) || len(ts) != 0 {
				t.Errorf("event 1: endpoints %v targets %v", epIDs, ts)
			}
		}
		return routeAll(ev, ts, eps)
	})
	if err != nil || n != 2 {
		t.Fatalf("FanOut(limit 2) = %d, %v; want 2", n, err)
	}
	if !slices.Equal(seen, []string{evs[0].ID, evs[1].ID}) {
		t.Errorf("FanOut took %v, want the first two in seq order", seen)
	}
	if n := fanOut(t, s, t0); n != 1 {
		t.Errorf("second FanOut took %d events, want 1", n)
	}
	if n := fanOut(t, s, t0); n != 0 {
		t.Errorf("third FanOut took %d events, want 0", n)
	}
	ds := deliveriesOf(t, s, store.DeliveryFilter{})
	if len(ds) != 4 {
		t.Fatalf("deliveries = %d, want 4: %+v", len(ds), ds)
	}
	got := map[string]store.Delivery{}
	for _, d := range ds {
		got[d.Dest()] = d
		if d.State != store.DeliveryPending || !d.NextAt.Equal(t0) || !d.SeriesAt.Equal(t0) || !d.CreatedAt.Equal(t0) || d.Attempts != 0 {
			t.Errorf("new delivery %+v: want pending, due at fan-out, no attempts", d)
		}
	}
	mp := got["t:"+tg.Format+" "+tg.URL]
	if mp.EventID != evs[0].ID || mp.EventType != "order.paid" || mp.Subject != "order:1" || mp.EndpointID != 0 || mp.URL != tg.URL || !bytes.Equal(mp.Data, tg.Data) {
		t.Errorf("target delivery = %+v", mp)
	}
	if d := got[fmt.Sprintf("e:%d", ep2.ID)]; d.EventID != evs[1].ID || d.MerchantID != m2 || d.EndpointID != ep2.ID || d.Data != nil {
		t.Errorf("merchant 2's delivery = %+v", d)
	}
	if ds := deliveriesOf(t, s, store.DeliveryFilter{MerchantID: 1, EventID: evs[0].ID}); len(ds) != 2 {
		t.Errorf("deliveries of event 0 = %d, want 2", len(ds))
	}
	if ds := deliveriesOf(t, s, store.DeliveryFilter{MerchantID: m2, EventID: evs[0].ID}); len(ds) != 0 {
		t.Errorf("deliveries of event 0 for merchant 2 = %d, want 0", len(ds))
	}
	if ds := deliveriesOf(t, s, store.DeliveryFilter{AfterID: ds[0].ID, Limit: 2}); len(ds) != 2 {
		t.Errorf("paged deliveries = %d, want 2", len(ds))
	}
	ev, err := s.EventByID(ctx, evs[1].ID)
	if err != nil || ev.Seq != evs[1].Seq || ev.MerchantID != m2 {
		t.Errorf("EventByID = %+v, %v", ev, err)
	}
	if _, err := s.EventByID(ctx, "evt_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EventByID(missing) = %v, want ErrNotFound", err)
	}
	if n, err := s.CountDueDeliveries(ctx, t0); err != nil || n != 4 {
		t.Errorf("CountDueDeliveries = %d, %v; want 4", n, err)
	}
	if n, err := s.CountDueDeliveries(ctx, t0.Add(-time.Second)); err != nil || n != 0 {
		t.Errorf("CountDueDeliveries before fan-out = %d, %v; want 0", n, err)
	}
}

// Targets written by an operation that is rolled back to its savepoint
// are gone with it.
func testTargetsFollowSavepoint(t *testing.T, s store.Store) {
	ctx := t.Context()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	kept, dropped := store.NewEventID(), store.NewEventID()
	for _, id := range []string{dropped, kept} {
		if err := tx.Savepoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.InsertTargets(ctx, id, []store.Target{{Format: store.FormatPaykassma, URL: "https://a.example/" + id}}); err != nil {
			t.Fatal(err)
		}
		if id == dropped {
			err = tx.RollbackToSavepoint(ctx)
		} else {
			err = tx.ReleaseSavepoint(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	evs := []store.Event{
		{ID: dropped, MerchantID: 1, Type: "a", Payload: []byte(`{}`), CreatedAt: t0},
		{ID: kept, MerchantID: 1, Type: "a", Payload: []byte(`{}`), CreatedAt: t0},
	}
	if err := tx.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	fanOut(t, s, t0)
	ds := deliveriesOf(t, s, store.DeliveryFilter{})
	if len(ds) != 1 || ds[0].EventID != kept {
		t.Errorf("deliveries = %+v, want one for the kept event", ds)
	}
}

func testClaimOrder(t *testing.T, s store.Store) {
	ep := newEndpoint(t, s, 1, "*")
	other := newEndpoint(t, s, 1, "*")
	evs := emit(t, s, []store.Event{
		{Type: "a", Subject: "order:1"},
		{Type: "b", Subject: "order:1"},
		{Type: "c", Subject: "order:2"},
		{Type: "d"},
		{Type: "e"},
	}, nil)
	fanOut(t, s, t0)
	// Per destination, only the oldest pending event of a subject; events
	// without a subject are free.
	cs := claim(t, s, t0, 100)
	if len(cs) != 8 {
		t.Fatalf("claimed %d, want 8 (2 endpoints × events a, c, d, e): %v", len(cs), claimedEvents(cs))
	}
	for _, c := range cs {
		if c.Event.ID == evs[1].ID {
			t.Errorf("event b claimed while a of the same subject is pending")
		}
		if c.Endpoint == nil || c.Endpoint.Secret == "" || c.Token == "" {
			t.Errorf("claim %+v lacks its endpoint or token", c)
		}
		if !jsonEq(c.Event.Payload, []byte(`{"n":1}`)) || c.Event.Type == "" || c.Event.MerchantID != 1 || !c.Event.CreatedAt.Equal(t0) {
			t.Errorf("claimed event = %+v", c.Event)
		}
	}
	// a fails at ep and is delivered at other: b goes on only to other.
	for i := range cs {
		c := &cs[i]
		switch {
		case c.Event.ID == evs[0].ID && c.Delivery.EndpointID == ep.ID:
			if !record(t, s, c, t0, false, t0.Add(time.Minute)) {
				t.Error("claim did not hold")
			}
		default:
			record(t, s, c, t0, true, time.Time{})
		}
	}
	cs = claim(t, s, t0.Add(time.Second), 100)
	if len(cs) != 1 || cs[0].Event.ID != evs[1].ID || cs[0].Delivery.EndpointID != other.ID {
		t.Fatalf("claims = %v, want only b to the other endpoint", claimedEvents(cs))
	}
	record(t, s, &cs[0], t0.Add(time.Second), true, time.Time{})
	cs = claim(t, s, t0.Add(time.Minute), 100)
	if len(cs) != 1 || cs[0].Event.ID != evs[0].ID || cs[0].Delivery.Retries != 1 || cs[0].Delivery.Attempts != 1 {
		t.Fatalf("claims at the retry = %+v, want a again with 1 retry", cs)
	}
	record(t, s, &cs[0], t0.Add(time.Minute), true, time.Time{})
	cs = claim(t, s, t0.Add(time.Minute), 100)
	if len(cs) != 1 || cs[0].Event.ID != evs[1].ID || cs[0].Delivery.EndpointID != ep.ID {
		t.Fatalf("claims after a = %v, want b", claimedEvents(cs))
	}

	// An earlier event of the subject routed nowhere holds nothing back.
	late := emit(t, s, []store.Event{{Type: "f", Subject: "order:3"}, {Type: "g", Subject: "order:3"}}, nil)
	n, err := s.FanOut(t.Context(), t0, 10, func(ev store.Event, ts []store.Target, eps []store.WebhookEndpoint) []store.Delivery {
		if ev.ID == late[0].ID {
			return nil
		}
		return routeAll(ev, ts, eps)
	})
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	cs = claim(t, s, t0.Add(time.Minute), 100)
	if len(cs) != 2 || cs[0].Event.ID != late[1].ID {
		t.Errorf("claims = %v, want g twice (f has no delivery)", claimedEvents(cs))
	}
}

func testClaimLease(t *testing.T, s store.Store) {
	newEndpoint(t, s, 1, "*")
	emit(t, s, []store.Event{{Type: "a", Subject: "s"}}, nil)
	fanOut(t, s, t0)
	first := claim(t, s, t0, 10)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	if cs := claim(t, s, t0.Add(59*time.Second), 10); len(cs) != 0 {
		t.Errorf("claimed %d during the lease, want 0", len(cs))
	}
	// The lease (one minute) expires: another claimer takes it, and the
	// first claim no longer holds.
	second := claim(t, s, t0.Add(61*time.Second), 10)
	if len(second) != 1 || second[0].Token == first[0].Token {
		t.Fatalf("claims after the lease = %+v, want the delivery with a new token", second)
	}
	if record(t, s, &first[0], t0.Add(62*time.Second), true, time.Time{}) {
		t.Error("the expired claim held")
	}
	if d := deliveriesOf(t, s, store.DeliveryFilter{})[0]; d.State != store.DeliveryPending || d.Attempts != 0 {
		t.Errorf("after a lost claim's record: %+v, want untouched", d)
	}
	if !record(t, s, &second[0], t0.Add(62*time.Second), true, time.Time{}) {
		t.Error("the live claim did not hold")
	}
	d := deliveriesOf(t, s, store.DeliveryFilter{})[0]
	if d.State != store.DeliveryDelivered || d.Attempts != 1 || d.DoneAt == nil || d.LastStatus != 200 {
		t.Errorf("after delivery: %+v", d)
	}
	// Both attempts are in the log.
	as, err := s.Attempts(t.Context(), d.ID)
	if err != nil || len(as) != 2 {
		t.Errorf("Attempts = %d, %v; want 2", len(as), err)
	}

	// Released claims are claimable at once.
	emit(t, s, []store.Event{{Type: "b"}}, nil)
	fanOut(t, s, t0)
	cs := claim(t, s, t0.Add(2*time.Minute), 10)
	if len(cs) != 1 {
		t.Fatalf("claimed %d, want 1", len(cs))
	}
	if err := s.ReleaseClaims(t.Context(), []string{cs[0].Token}); err != nil {
		t.Fatalf("ReleaseClaims: %v", err)
	}
	if cs := claim(t, s, t0.Add(2*time.Minute), 10); len(cs) != 1 {
		t.Errorf("claimed %d after release, want 1", len(cs))
	}
}

// Concurrent claimers never take the same delivery.
func testClaimConcurrent(t *testing.T, s store.Store) {
	newEndpoint(t, s, 1, "*")
	newEndpoint(t, s, 1, "*")
	evs := make([]store.Event, 100)
	for i := range evs {
		evs[i].Type = "a"
	}
	emit(t, s, evs, nil)
	fanOut(t, s, t0)
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				cs, err := s.ClaimDeliveries(t.Context(), t0, time.Minute, 7)
				if errors.Is(err, store.ErrRetry) {
					continue
				}
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.Delivery.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Errorf("claimed %d deliveries, want 200", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %d claimed %d times", id, n)
		}
	}
}

func testEndpointHealth(t *testing.T, s store.Store) {
	ctx := t.Context()
	ep := newEndpoint(t, s, 1, "*")
	emit(t, s, []store.Event{{Type: "a"}, {Type: "b"}, {Type: "c"}, {Type: "d"}}, nil)
	fanOut(t, s, t0)
	cs := claim(t, s, t0, 10)
	if len(cs) != 4 {
		t.Fatalf("claimed %d, want 4", len(cs))
	}
	// Three failures (FailingAfter 3) mark it failing; each delivery is due
	// again in an hour.
	for i := range 3 {
		record(t, s, &cs[i], t0.Add(time.Duration(i)*time.Second), false, t0.Add(time.Hour))
		got, _ := s.WebhookEndpoint(ctx, ep.ID)
		if got.Failures != i+1 || (got.FailingSince != nil) != (i == 2) {
			t.Errorf("after %d failures: failures %d, failing since %v", i+1, got.Failures, got.FailingSince)
		}
	}
	// It answers again: the others are due at once, and it is healthy.
	at := t0.Add(10 * time.Second)
	record(t, s, &cs[3], at, true, time.Time{})
	got, _ := s.WebhookEndpoint(ctx, ep.ID)
	if got.Failures != 0 || got.FailingSince != nil {
		t.Errorf("after a success: failures %d, failing since %v", got.Failures, got.FailingSince)
	}
	for _, d := range deliveriesOf(t, s, store.DeliveryFilter{State: store.DeliveryPending}) {
		if !d.NextAt.Equal(at) {
			t.Errorf("delivery %d due at %v after recovery, want %v", d.ID, d.NextAt, at)
		}
	}

	// 410 Gone: disabled, and its deliveries wait.
	cs = claim(t, s, at, 10)
	if len(cs) != 3 {
		t.Fatalf("claimed %d, want 3", len(cs))
	}
	held, err := s.RecordAttempt(ctx, store.AttemptResult{Claim: &cs[0], Attempt: store.Attempt{N: 2, At: at, Status: 410},
		NextAt: at.Add(time.Minute), DisableEndpoint: "gone", FailingAfter: 3})
	if err != nil || !held {
		t.Fatalf("RecordAttempt = %v, %v", held, err)
	}
	if err := s.ReleaseClaims(ctx, []string{cs[1].Token}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebhookEndpoint(ctx, ep.ID)
	if got.Enabled || got.DisabledReason != "gone" {
		t.Errorf("after 410: enabled %v reason %q", got.Enabled, got.DisabledReason)
	}
	if cs := claim(t, s, at.Add(time.Hour), 10); len(cs) != 0 {
		t.Errorf("claimed %d for a disabled endpoint, want 0", len(cs))
	}
	if n, _ := s.CountDueDeliveries(ctx, at.Add(time.Hour)); n != 0 {
		t.Errorf("CountDueDeliveries for a disabled endpoint = %d, want 0", n)
	}
	// Enabled again by an operator: everything waiting is due now.
	on := at.Add(2 * time.Minute)
	got.Enabled, got.DisabledReason, got.UpdatedAt = true, "", on
	if err := s.UpdateWebhookEndpoint(ctx, got); err != nil {
		t.Fatal(err)
	}
	if cs := claim(t, s, on, 10); len(cs) != 3 {
		t.Errorf("claimed %d after re-enabling, want 3", len(cs))
	}
	got, _ = s.WebhookEndpoint(ctx, ep.ID)
	if got.Failures != 0 || got.FailingSince != nil || !got.Enabled {
		t.Errorf("re-enabled endpoint = %+v", got)
	}
}

func testDeliveryLog(t *testing.T, s store.Store) {
	ctx := t.Context()
	emit(t, s, []store.Event{{Type: "a"}}, map[int][]store.Target{0: {{Format: store.FormatPaykassma, URL: "https://p.example/pb"}}})
	fanOut(t, s, t0)
	cs := claim(t, s, t0, 10)
	if len(cs) != 1 || cs[0].Endpoint != nil {
		t.Fatalf("claims = %+v, want one target delivery", cs)
	}
	a := store.Attempt{
		N: 1, At: t0, Duration: 1500 * time.Microsecond, URL: "https://p.example/pb",
		RequestHeaders: []byte(`{"Content-Type":"application/json"}`),
		RequestBody:    []byte(`{"access_key":"[redacted]"}`),
		Status:         502, ResponseBody: []byte("bad \xff gateway\x00"), Error: "HTTP 502",
	}
	held, err := s.RecordAttempt(ctx, store.AttemptResult{Claim: &cs[0], Attempt: a, GiveUp: true})
	if err != nil || !held {
		t.Fatalf("RecordAttempt = %v, %v", held, err)
	}
	d := deliveriesOf(t, s, store.DeliveryFilter{})[0]
	if d.State != store.DeliveryFailed || d.DoneAt == nil || d.LastStatus != 502 || d.LastError != "HTTP 502" || d.LastAt == nil {
		t.Errorf("given-up delivery = %+v", d)
	}
	as, err := s.Attempts(ctx, d.ID)
	if err != nil || len(as) != 1 {
		t.Fatalf("Attempts = %+v, %v", as, err)
	}
	got := as[0]
	a.ID, a.DeliveryID = got.ID, d.ID
	if !jsonEq(got.RequestHeaders, a.RequestHeaders) {
		t.Errorf("headers = %s, want %s", got.RequestHeaders, a.RequestHeaders)
	}
	got.RequestHeaders = a.RequestHeaders
	if d := diff(got, a); d != "" {
		t.Errorf("attempt:%s", d)
	}
}

func testRedeliver(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	newEndpoint(t, s, 1, "*")
	newEndpoint(t, s, m2, "*")
	evs := emit(t, s, []store.Event{{Type: "a"}, {Type: "b"}, {Type: "c"}, {Type: "d", MerchantID: m2}}, nil)
	fanOut(t, s, t0)
	cs := claim(t, s, t0, 10)
	byEvent := map[string]*store.Claim{}
	for i := range cs {
		byEvent[cs[i].Event.ID] = &cs[i]
	}
	at := t0.Add(time.Hour)
	record(t, s, byEvent[evs[0].ID], at, true, time.Time{})
	if _, err := s.RecordAttempt(ctx, store.AttemptResult{Claim: byEvent[evs[1].ID], Attempt: store.Attempt{N: 1, At: at}, GiveUp: true}); err != nil {
		t.Fatal(err)
	}
	record(t, s, byEvent[evs[2].ID], at.Add(time.Minute), false, at.Add(10*time.Hour))
	if _, err := s.RecordAttempt(ctx, store.AttemptResult{Claim: byEvent[evs[3].ID], Attempt: store.Attempt{N: 1, At: at}, GiveUp: true}); err != nil {
		t.Fatal(err)
	}

	now := at.Add(2 * time.Hour)
	// One event, whatever its state; scoped by merchant.
	if n, err := s.Redeliver(ctx, store.Redelivery{MerchantID: m2, EventID: evs[0].ID, Now: now}); err != nil || n != 0 {
		t.Errorf("Redeliver(other merchant's event) = %d, %v; want 0", n, err)
	}
	if n, err := s.Redeliver(ctx, store.Redelivery{MerchantID: 1, EventID: evs[0].ID, Now: now}); err != nil || n != 1 {
		t.Errorf("Redeliver(event) = %d, %v; want 1", n, err)
	}
	// Failed since: the given-up b and the retrying c of merchant 1, not
	// merchant 2's d.
	if n, err := s.Redeliver(ctx, store.Redelivery{MerchantID: 1, FailedSince: at.Add(2 * time.Minute), Now: now}); err != nil || n != 0 {
		t.Errorf("Redeliver(failed since later) = %d, %v; want 0", n, err)
	}
	if n, err := s.Redeliver(ctx, store.Redelivery{MerchantID: 1, FailedSince: at, Now: now}); err != nil || n != 2 {
		t.Errorf("Redeliver(failed since) = %d, %v; want 2", n, err)
	}
	cs = claim(t, s, now, 10)
	var got []string
	for _, c := range cs {
		got = append(got, c.Event.Type)
		if c.Delivery.Retries != 0 || !c.Delivery.SeriesAt.Equal(now) || c.Delivery.DoneAt != nil {
			t.Errorf("redelivered %+v: want a fresh series", c.Delivery)
		}
	}
	slices.Sort(got)
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("claimed after redelivery: %v, want a, b, c", got)
	}
	// Every merchant (0), failed since: d too.
	if n, err := s.Redeliver(ctx, store.Redelivery{FailedSince: at, Now: now}); err != nil || n != 1 {
		t.Errorf("Redeliver(all merchants) = %d, %v; want 1 (d; the others are claimed but pending without failure since)", n, err)
	}
}

// A redelivery (or a cancellation) that comes while an attempt is under
// way is not undone by that attempt's result.
func testRedeliverInFlight(t *testing.T, s store.Store) {
	ctx := t.Context()
	ep := newEndpoint(t, s, 1, "*")
	evs := emit(t, s, []store.Event{{Type: "a"}, {Type: "b"}}, nil)
	fanOut(t, s, t0)
	cs := claim(t, s, t0, 10)
	if len(cs) != 2 {
		t.Fatalf("claimed %d, want 2", len(cs))
	}
	at := t0.Add(time.Second)
	if n, err := s.Redeliver(ctx, store.Redelivery{EventID: evs[0].ID, Now: at}); err != nil || n != 1 {
		t.Fatalf("Redeliver = %d, %v", n, err)
	}
	var first, second *store.Claim
	for i := range cs {
		if cs[i].Event.ID == evs[0].ID {
			first = &cs[i]
		} else {
			second = &cs[i]
		}
	}
	if !record(t, s, first, at, true, time.Time{}) {
		t.Error("the claim did not hold")
	}
	d := deliveriesOf(t, s, store.DeliveryFilter{EventID: evs[0].ID})[0]
	if d.State != store.DeliveryPending || d.Attempts != 1 || !d.NextAt.Equal(at) || !d.SeriesAt.Equal(at) {
		t.Errorf("redelivered during its attempt: %+v, want pending and due, the attempt counted", d)
	}
	if cs := claim(t, s, at, 10); len(cs) != 1 || cs[0].Event.ID != evs[0].ID {
		t.Errorf("claims = %v, want the redelivered event at once", claimedEvents(cs))
	}
	// Cancelled (endpoint deleted) during its attempt: stays cancelled.
	if err := s.DeleteWebhookEndpoint(ctx, ep.ID, at); err != nil {
		t.Fatal(err)
	}
	record(t, s, second, at, true, time.Time{})
	d = deliveriesOf(t, s, store.DeliveryFilter{EventID: evs[1].ID})[0]
	if d.State != store.DeliveryCancelled || d.Attempts != 1 {
		t.Errorf("cancelled during its attempt: %+v", d)
	}
}

func jsonEq(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
