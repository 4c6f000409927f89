package client_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
)

// The Standard Webhooks specification's test vector.
func TestVerifyWebhookVector(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	// The vector's timestamp is from 2021: allow it.
	age := time.Since(time.Unix(1614265330, 0)) + time.Hour
	if err := client.VerifyWebhook(secret, h, body, age); err != nil {
		t.Fatalf("VerifyWebhook = %v", err)
	}
	if err := client.VerifyWebhook(secret, h, body, 0); !errors.Is(err, client.ErrWebhookTimestamp) {
		t.Errorf("VerifyWebhook with the default tolerance = %v, want ErrWebhookTimestamp", err)
	}
	if err := client.VerifyWebhook(secret, h, []byte(`{"test": 1}`), age); !errors.Is(err, client.ErrWebhookSignature) {
		t.Errorf("VerifyWebhook(changed body) = %v, want ErrWebhookSignature", err)
	}
	h2 := h.Clone()
	h2.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	if err := client.VerifyWebhook(secret, h2, body, 0); !errors.Is(err, client.ErrWebhookSignature) {
		t.Errorf("VerifyWebhook(other timestamp) = %v, want ErrWebhookSignature", err)
	}
	h2.Del("webhook-id")
	if err := client.VerifyWebhook(secret, h2, body, 0); !errors.Is(err, client.ErrWebhookHeaders) {
		t.Errorf("VerifyWebhook(no id) = %v, want ErrWebhookHeaders", err)
	}
}
