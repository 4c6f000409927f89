package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhooks: endpoints that receive the merchant's events, signed in the
// Standard Webhooks scheme; the events, their deliveries and the delivery
// log; redelivery. See docs/webhooks.md. A client made with ForMerchant
// acts on that merchant.

// Webhook is a webhook endpoint. Secret is set only in the answers of
// CreateWebhook and RotateWebhookSecret.
type Webhook struct {
	ID                      int64      `json:"id"`
	URL                     string     `json:"url"`
	Description             string     `json:"description"`
	EventTypes              []string   `json:"event_types"`
	Enabled                 bool       `json:"enabled"`
	Status                  string     `json:"status"` // "enabled", "failing" or "disabled"
	DisabledReason          string     `json:"disabled_reason,omitempty"`
	ConsecutiveFailures     int        `json:"consecutive_failures"`
	FailingSince            *time.Time `json:"failing_since,omitempty"`
	Secret                  string     `json:"secret,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// WebhookRequest creates an endpoint (URL and EventTypes required) or
// changes one (nil fields stay as they are). EventTypes are exact types
// ("order.paid"), prefixes ("transfer.*") or "*".
type WebhookRequest struct {
	URL         *string  `json:"url,omitempty"`
	Description *string  `json:"description,omitempty"`
	EventTypes  []string `json:"event_types,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// Event is an outbox event. Deliveries is set by GetEvent.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Subject    string          `json:"subject,omitempty"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  time.Time       `json:"created_at"`
	Deliveries []Delivery      `json:"deliveries,omitempty"`
}

// EventPage is a page of events.
type EventPage struct {
	Data       []Event `json:"data"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// Delivery is one event to one destination. Log is set by GetEvent.
type Delivery struct {
	ID            int64             `json:"id"`
	EventID       string            `json:"event_id"`
	EventType     string            `json:"event_type"`
	Subject       string            `json:"subject,omitempty"`
	WebhookID     int64             `json:"webhook_id,omitempty"`
	Format        string            `json:"format"`
	URL           string            `json:"url,omitempty"`
	State         string            `json:"state"` // pending, delivered, failed or cancelled
	Attempts      int               `json:"attempts"`
	NextAttemptAt *time.Time        `json:"next_attempt_at,omitempty"`
	LastAttemptAt *time.Time        `json:"last_attempt_at,omitempty"`
	LastStatus    int               `json:"last_status,omitempty"`
	LastError     string            `json:"last_error,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	DoneAt        *time.Time        `json:"done_at,omitempty"`
	Log           []DeliveryAttempt `json:"log,omitempty"`
}

// DeliveryAttempt is one entry of the delivery log.
type DeliveryAttempt struct {
	Attempt        int               `json:"attempt"`
	At             time.Time         `json:"at"`
	DurationMS     float64           `json:"duration_ms"`
	URL            string            `json:"url"`
	RequestHeaders map[string]string `json:"request_headers"`
	RequestBody    string            `json:"request_body"`
	ResponseStatus int               `json:"response_status,omitempty"`
	ResponseBody   string            `json:"response_body,omitempty"`
	Error          string            `json:"error,omitempty"`
}

// DeliveryPage is a page of deliveries.
type DeliveryPage struct {
	Data       []Delivery `json:"data"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// ListDeliveriesParams filters ListDeliveries.
type ListDeliveriesParams struct {
	State     string // "pending", "delivered", "failed", "cancelled" or "" for all
	WebhookID int64
	Cursor    string
	Limit     int
}

// CreateWebhook adds an endpoint. The answer carries its secret: keep it,
// it is not shown again.
func (c *Client) CreateWebhook(ctx context.Context, r WebhookRequest) (Webhook, error) {
	var w Webhook
	_, err := c.do(ctx, http.MethodPost, Prefix+"/webhooks", nil, r, &w)
	return w, err
}

// ListWebhooks lists the endpoints.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Data []Webhook `json:"data"`
	}
	_, err := c.do(ctx, http.MethodGet, Prefix+"/webhooks", nil, nil, &out)
	return out.Data, err
}

// GetWebhook reads an endpoint.
func (c *Client) GetWebhook(ctx context.Context, id int64) (Webhook, error) {
	var w Webhook
	_, err := c.do(ctx, http.MethodGet, Prefix+"/webhooks/"+itoa(id), nil, nil, &w)
	return w, err
}

// UpdateWebhook changes the fields r sets.
func (c *Client) UpdateWebhook(ctx context.Context, id int64, r WebhookRequest) (Webhook, error) {
	var w Webhook
	_, err := c.do(ctx, http.MethodPost, Prefix+"/webhooks/"+itoa(id), nil, r, &w)
	return w, err
}

// DeleteWebhook deletes an endpoint.
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	_, err := c.do(ctx, http.MethodPost, Prefix+"/webhooks/"+itoa(id)+"/delete", nil, nil, nil)
	return err
}

// RotateWebhookSecret gives an endpoint a new secret (in the answer); the
// old one stays valid for grace (0: the server's default of one day;
// negative: not at all), and meanwhile both sign every request.
func (c *Client) RotateWebhookSecret(ctx context.Context, id int64, grace time.Duration) (Webhook, error) {
	var in struct {
		GraceSeconds *int64 `json:"grace_seconds,omitempty"`
	}
	switch {
	case grace < 0:
		zero := int64(0)
		in.GraceSeconds = &zero
	case grace > 0:
		s := int64(grace / time.Second)
		in.GraceSeconds = &s
	}
	var w Webhook
	_, err := c.do(ctx, http.MethodPost, Prefix+"/webhooks/"+itoa(id)+"/rotate", nil, in, &w)
	return w, err
}

// ListEvents lists events, oldest first.
func (c *Client) ListEvents(ctx context.Context, p ListParams) (EventPage, error) {
	var out EventPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/events", pageQuery(p.Cursor, p.Limit), nil, &out)
	return out, err
}

// GetEvent reads an event with its deliveries and their log.
func (c *Client) GetEvent(ctx context.Context, id string) (Event, error) {
	var e Event
	_, err := c.do(ctx, http.MethodGet, Prefix+"/events/"+url.PathEscape(id), nil, nil, &e)
	return e, err
}

// RedeliverEvent sends an event again to each of its destinations and
// returns how many deliveries were scheduled.
func (c *Client) RedeliverEvent(ctx context.Context, id string) (int, error) {
	var out struct {
		Redelivered int `json:"redelivered"`
	}
	_, err := c.do(ctx, http.MethodPost, Prefix+"/events/"+url.PathEscape(id)+"/redeliver", nil, nil, &out)
	return out.Redelivered, err
}

// ListDeliveries lists deliveries.
func (c *Client) ListDeliveries(ctx context.Context, p ListDeliveriesParams) (DeliveryPage, error) {
	q := pageQuery(p.Cursor, p.Limit)
	if p.State != "" {
		q.Set("state", p.State)
	}
	if p.WebhookID != 0 {
		q.Set("webhook_id", itoa(p.WebhookID))
	}
	var out DeliveryPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/deliveries", q, nil, &out)
	return out, err
}

// RedeliverFailed sends again every delivery that failed at or after since
// and returns how many.
func (c *Client) RedeliverFailed(ctx context.Context, since time.Time) (int, error) {
	in := struct {
		FailedSince string `json:"failed_since"`
	}{since.UTC().Format(time.RFC3339Nano)}
	var out struct {
		Redelivered int `json:"redelivered"`
	}
	_, err := c.do(ctx, http.MethodPost, Prefix+"/deliveries/redeliver", nil, in, &out)
	return out.Redelivered, err
}

// Webhook verification failures.
var (
	ErrWebhookHeaders   = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrWebhookTimestamp = errors.New("webhook: timestamp outside the tolerance")
	ErrWebhookSignature = errors.New("webhook: no valid signature")
	ErrWebhookSecret    = errors.New("webhook: malformed secret")
)

// VerifyWebhook checks a webhook request Coffer sent: one of the
// signatures in webhook-signature must be the HMAC-SHA256, keyed by the
// endpoint's secret (whsec_…), of "<webhook-id>.<webhook-timestamp>.<body>",
// and the timestamp must be within tolerance of now (0 means five
// minutes). body must be the raw request body, unparsed. After it returns
// nil, drop the event if its webhook-id was already processed: deliveries
// are at least once.
func VerifyWebhook(secret string, header http.Header, body []byte, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	id, tsText, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return ErrWebhookHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrWebhookTimestamp
	}
	if d := time.Since(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookTimestamp
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return ErrWebhookSecret
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + tsText + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrWebhookSignature
}
