package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
)

// Signing secrets are sealed at rest with the master key, shown once in
// plain text, and still sign deliveries that verify with that text.
func TestSecretsSealedAtRest(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		box, err := seal.New(seal.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		svc := notify.NewService(st, notify.ServiceOptions{AllowPrivate: true, Box: box})
		url := "http://127.0.0.1:9/hook"
		ep, err := svc.CreateEndpoint(ctx, 1, notify.EndpointInput{URL: &url, EventTypes: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ep.Secret, "whsec_") {
			t.Fatalf("create must show the secret once in plain text, got %q", ep.Secret)
		}
		stored, err := st.WebhookEndpoint(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored.Secret, "sealed:") || strings.Contains(stored.Secret, strings.TrimPrefix(ep.Secret, "whsec_")) {
			t.Fatalf("stored secret is not sealed: %q", stored.Secret)
		}
		ev := store.Event{ID: "evt_1", MerchantID: 1, Type: "test.sent", Payload: []byte(`{"a":1}`), CreatedAt: time.Now()}
		now := time.Now()
		req, err := notify.Webhooks{Box: box}.Encode(ctx, notify.Message{Event: ev, Endpoint: &stored, At: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := notify.Verify(ep.Secret, req.Header, req.Body, time.Minute); err != nil {
			t.Errorf("signature made from the sealed secret does not verify with the shown one: %v", err)
		}
		// Without the key a sealed secret cannot sign.
		if _, err := (notify.Webhooks{}).Encode(ctx, notify.Message{Event: ev, Endpoint: &stored, At: now}); err == nil {
			t.Errorf("a sealed secret signed without the master key")
		}
		// Rotation: the new secret is shown once, stored sealed; during the
		// grace period both signatures are sent and each verifies.
		rot, err := svc.RotateSecret(ctx, 1, ep.ID, time.Hour)
		if err != nil || !strings.HasPrefix(rot.Secret, "whsec_") {
			t.Fatalf("rotate: %q %v", rot.Secret, err)
		}
		stored, _ = st.WebhookEndpoint(ctx, ep.ID)
		if !strings.HasPrefix(stored.Secret, "sealed:") || !strings.HasPrefix(stored.PrevSecret, "sealed:") {
			t.Fatalf("rotated secrets not sealed: %q / %q", stored.Secret, stored.PrevSecret)
		}
		req, err = notify.Webhooks{Box: box}.Encode(ctx, notify.Message{Event: ev, Endpoint: &stored, At: now})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{ep.Secret, rot.Secret} {
			if err := notify.Verify(s, req.Header, req.Body, time.Minute); err != nil {
				t.Errorf("secret %s… does not verify during the grace period: %v", s[:10], err)
			}
		}
	})
}
