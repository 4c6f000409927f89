package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/store"
)

// webhookEnv is the API with webhooks: a ledger whose transfers emit events
// for subscribed merchants, and the notify service (no dispatcher: the
// deliveries stay pending).
func webhookEnv(t *testing.T, st store.Store) (c, other *client.Client, base string) {
	t.Helper()
	subs := notify.NewSubscriptions(st, nil)
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1, TransferEvent: subs.TransferEvent})
	t.Cleanup(func() { eng.Close(context.Background()) })
	svc := notify.NewService(st, notify.ServiceOptions{Subscriptions: subs})
	srv := httptest.NewServer(api.New(api.Config{Engine: eng, Webhooks: svc}))
	t.Cleanup(srv.Close)
	key := func(role string, merchant int64) string {
		tok, row, err := apikey.Generate(role, merchant, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.InsertAPIKey(context.Background(), &row); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	m2, err := st.CreateMerchant(context.Background(), "second")
	if err != nil {
		t.Fatal(err)
	}
	return client.New(srv.URL, key(apikey.RoleAdmin, 1)), client.New(srv.URL, key(apikey.RoleMerchant, m2.ID)), srv.URL
}

func TestWebhookRoutes(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		c, other, _ := webhookEnv(t, st)
		cx := ctx(t)
		url := "https://example.com/hooks"
		w := must[client.Webhook](t)(c.CreateWebhook(cx, client.WebhookRequest{URL: &url, EventTypes: []string{"transfer.*"}, Description: ptrTo("shop")}))
		if w.ID == 0 || !strings.HasPrefix(w.Secret, "whsec_") || w.Status != "enabled" || !w.Enabled || w.URL != url || w.Description != "shop" {
			t.Fatalf("created = %+v", w)
		}
		bad := []struct {
			r     client.WebhookRequest
			field string
		}{
			{client.WebhookRequest{URL: ptrTo("ftp://example.com/"), EventTypes: []string{"*"}}, "url"},
			{client.WebhookRequest{URL: ptrTo("http://127.0.0.1:8080/"), EventTypes: []string{"*"}}, "url"},
			{client.WebhookRequest{URL: &url}, "event_types"},
			{client.WebhookRequest{URL: &url, EventTypes: []string{"Order.Paid"}}, "event_types"},
		}
		for _, b := range bad {
			_, err := c.CreateWebhook(cx, b.r)
			if ce := wantAPIError(t, err, 422, "invalid_request"); ce.Field != b.field {
				t.Errorf("CreateWebhook(%+v): field %q, want %q", b.r, ce.Field, b.field)
			}
		}
		list := must[[]client.Webhook](t)(c.ListWebhooks(cx))
		if len(list) != 1 || list[0].Secret != "" {
			t.Errorf("ListWebhooks = %+v, want one without its secret", list)
		}
		if got := must[[]client.Webhook](t)(other.ListWebhooks(cx)); len(got) != 0 {
			t.Errorf("another merchant lists %d endpoints", len(got))
		}
		_, err := other.GetWebhook(cx, w.ID)
		wantAPIError(t, err, 404, "webhook_not_found")
		_, err = other.UpdateWebhook(cx, w.ID, client.WebhookRequest{Enabled: ptrTo(false)})
		wantAPIError(t, err, 404, "webhook_not_found")

		// Disable, then enable again.
		got := must[client.Webhook](t)(c.UpdateWebhook(cx, w.ID, client.WebhookRequest{Enabled: ptrTo(false)}))
		if got.Status != "disabled" || got.Secret != "" || got.URL != url {
			t.Errorf("disabled = %+v", got)
		}
		must[client.Webhook](t)(c.UpdateWebhook(cx, w.ID, client.WebhookRequest{Enabled: ptrTo(true)}))

		// Rotate: a new secret; the old one valid for the grace period.
		rot := must[client.Webhook](t)(c.RotateWebhookSecret(cx, w.ID, time.Hour))
		if rot.Secret == "" || rot.Secret == w.Secret || rot.PreviousSecretExpiresAt == nil ||
			rot.PreviousSecretExpiresAt.Sub(time.Now()) < 59*time.Minute {
			t.Errorf("rotated = %+v", rot)
		}

		// A transfer of the subscribed merchant makes an event with one
		// pending delivery.
		mint := must[client.Account](t)(c.CreateAccount(cx, client.CreateAccountRequest{Asset: "USD", Name: "mint", Normal: "debit", Unlimited: true}))
		a := must[client.Account](t)(c.CreateAccount(cx, client.CreateAccountRequest{Asset: "USD", Name: "a"}))
		tr := must[client.Transfer](t)(c.CreateTransfer(cx, client.TransferRequest{Key: "k1", DebitAccountID: mint.ID, CreditAccountID: a.ID, Asset: "USD", Amount: "12.50"}))
		evs := must[client.EventPage](t)(c.ListEvents(cx, client.ListParams{}))
		if len(evs.Data) != 1 || evs.Data[0].Type != "transfer.posted" || !strings.Contains(string(evs.Data[0].Data), `"amount":"12.50"`) {
			t.Fatalf("events = %+v", evs)
		}
		if got := must[client.EventPage](t)(other.ListEvents(cx, client.ListParams{})); len(got.Data) != 0 {
			t.Errorf("another merchant sees %d events", len(got.Data))
		}
		evID := evs.Data[0].ID
		// The fan-out is the dispatcher's: none runs here, so no delivery yet.
		ev := must[client.Event](t)(c.GetEvent(cx, evID))
		if ev.ID != evID || ev.Subject != "transfer:"+strconv.FormatInt(tr.ID, 10) || len(ev.Deliveries) != 0 {
			t.Errorf("event = %+v", ev)
		}
		_, err = other.GetEvent(cx, evID)
		wantAPIError(t, err, 404, "event_not_found")
		n := must[int](t)(c.RedeliverEvent(cx, evID))
		if n != 0 {
			t.Errorf("RedeliverEvent = %d, want 0 (no delivery yet)", n)
		}
		_, err = other.RedeliverEvent(cx, evID)
		wantAPIError(t, err, 404, "event_not_found")
		if n := must[int](t)(c.RedeliverFailed(cx, time.Now().Add(-time.Hour))); n != 0 {
			t.Errorf("RedeliverFailed = %d", n)
		}
		_, err = c.ListDeliveries(cx, client.ListDeliveriesParams{State: "lost"})
		wantAPIError(t, err, 422, "invalid_request")
		if ds := must[client.DeliveryPage](t)(c.ListDeliveries(cx, client.ListDeliveriesParams{WebhookID: w.ID})); len(ds.Data) != 0 {
			t.Errorf("deliveries = %+v", ds)
		}

		if err := c.DeleteWebhook(cx, w.ID); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetWebhook(cx, w.ID)
		wantAPIError(t, err, 404, "webhook_not_found")
		wantAPIError(t, c.DeleteWebhook(cx, w.ID), 404, "webhook_not_found")
	})
}

func TestWebhookRoutesNotConfigured(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		r := e.raw(http.MethodGet, "/coffer/v1/webhooks", e.admin, "")
		if r.status != http.StatusServiceUnavailable || r.errorOf(t).Code != "unavailable" {
			t.Errorf("GET /webhooks without the service = %d %s", r.status, r.body)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
