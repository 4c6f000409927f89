package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/store"
)

// Webhook endpoints, the outbox's events, their deliveries and the
// delivery log, and redelivery (package notify does the work). A key acts
// on its own merchant; an admin key may name another with the
// Coffer-Merchant header.

// webhookRoutes are the routes of notification delivery.
func webhookRoutes() []route {
	return []route{
		{Method: "POST", Path: "/coffer/v1/webhooks", serve: (*handler).createWebhook},
		{Method: "GET", Path: "/coffer/v1/webhooks", serve: (*handler).listWebhooks},
		{Method: "GET", Path: "/coffer/v1/webhooks/{id}", serve: (*handler).getWebhook},
		{Method: "POST", Path: "/coffer/v1/webhooks/{id}", serve: (*handler).updateWebhook},
		{Method: "POST", Path: "/coffer/v1/webhooks/{id}/delete", serve: (*handler).deleteWebhook},
		{Method: "POST", Path: "/coffer/v1/webhooks/{id}/rotate", serve: (*handler).rotateWebhook},
		{Method: "GET", Path: "/coffer/v1/events", serve: (*handler).listEvents},
		{Method: "GET", Path: "/coffer/v1/events/{id}", serve: (*handler).getEvent},
		{Method: "POST", Path: "/coffer/v1/events/{id}/redeliver", serve: (*handler).redeliverEvent},
		{Method: "GET", Path: "/coffer/v1/deliveries", serve: (*handler).listDeliveries},
		{Method: "POST", Path: "/coffer/v1/deliveries/redeliver", serve: (*handler).redeliverFailed},
	}
}

var errWebhooksOff = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "this server does not serve webhooks"}

// webhookScope returns the merchant a webhook request acts on.
func (h *handler) webhookScope(r *http.Request, key store.APIKey) (int64, error) {
	if h.webhooks == nil {
		return 0, errWebhooksOff
	}
	if r.Header.Get(MerchantHeader) == "" {
		return key.MerchantID, nil
	}
	return h.acting(r, key)
}

// webhookErr maps the notify service's errors.
func webhookErr(err error) error {
	var ie *notify.InputError
	switch {
	case errors.As(err, &ie):
		return invalidField(ie.Field, ie.Message)
	case errors.Is(err, notify.ErrEndpointNotFound):
		return notFound("webhook_not_found", "webhook endpoint not found")
	case errors.Is(err, notify.ErrEventNotFound):
		return notFound("event_not_found", "event not found")
	}
	return err
}

// --- wire types ---

type webhookJSON struct {
	ID                      int64    `json:"id"`
	URL                     string   `json:"url"`
	Description             string   `json:"description"`
	EventTypes              []string `json:"event_types"`
	Enabled                 bool     `json:"enabled"`
	Status                  string   `json:"status"` // enabled, failing or disabled
	DisabledReason          string   `json:"disabled_reason,omitempty"`
	ConsecutiveFailures     int      `json:"consecutive_failures"`
	FailingSince            string   `json:"failing_since,omitempty"`
	Secret                  string   `json:"secret,omitempty"` // on create and rotate only
	PreviousSecretExpiresAt string   `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               string   `json:"created_at"`
	UpdatedAt               string   `json:"updated_at"`
}

func toWebhook(ep store.WebhookEndpoint, withSecret bool) webhookJSON {
	out := webhookJSON{
		ID: ep.ID, URL: ep.URL, Description: ep.Description, EventTypes: ep.EventTypes, Enabled: ep.Enabled,
		Status: "enabled", DisabledReason: ep.DisabledReason, ConsecutiveFailures: ep.Failures,
		CreatedAt: timeJSON(ep.CreatedAt), UpdatedAt: timeJSON(ep.UpdatedAt),
	}
	if out.EventTypes == nil {
		out.EventTypes = []string{}
	}
	switch {
	case !ep.Enabled:
		out.Status = "disabled"
	case ep.FailingSince != nil:
		out.Status = "failing"
	}
	if ep.FailingSince != nil {
		out.FailingSince = timeJSON(*ep.FailingSince)
	}
	if withSecret {
		out.Secret = ep.Secret
	}
	if ep.PrevExpiresAt != nil && ep.PrevExpiresAt.After(time.Now()) {
		out.PreviousSecretExpiresAt = timeJSON(*ep.PrevExpiresAt)
	}
	return out
}

type eventJSON struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Subject    string          `json:"subject,omitempty"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  string          `json:"created_at"`
	Deliveries []deliveryJSON  `json:"deliveries,omitempty"`
}

func toEvent(ev store.Event) eventJSON {
	return eventJSON{ID: ev.ID, Type: ev.Type, Subject: ev.Subject, Data: metadataJSON(ev.Payload), CreatedAt: timeJSON(ev.CreatedAt)}
}

type deliveryJSON struct {
	ID            int64         `json:"id"`
	EventID       string        `json:"event_id"`
	EventType     string        `json:"event_type"`
	Subject       string        `json:"subject,omitempty"`
	WebhookID     int64         `json:"webhook_id,omitempty"`
	Format        string        `json:"format"`
	URL           string        `json:"url,omitempty"`
	State         string        `json:"state"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt string        `json:"next_attempt_at,omitempty"`
	LastAttemptAt string        `json:"last_attempt_at,omitempty"`
	LastStatus    int           `json:"last_status,omitempty"`
	LastError     string        `json:"last_error,omitempty"`
	CreatedAt     string        `json:"created_at"`
	DoneAt        string        `json:"done_at,omitempty"`
	Log           []attemptJSON `json:"log,omitempty"`
}

func toDelivery(d store.Delivery) deliveryJSON {
	out := deliveryJSON{
		ID: d.ID, EventID: d.EventID, EventType: d.EventType, Subject: d.Subject, WebhookID: d.EndpointID,
		Format: d.Format, URL: d.URL, State: d.State, Attempts: d.Attempts, LastStatus: d.LastStatus,
		LastError: d.LastError, CreatedAt: timeJSON(d.CreatedAt),
	}
	if d.State == store.DeliveryPending {
		out.NextAttemptAt = timeJSON(d.NextAt)
	}
	if d.LastAt != nil {
		out.LastAttemptAt = timeJSON(*d.LastAt)
	}
	if d.DoneAt != nil {
		out.DoneAt = timeJSON(*d.DoneAt)
	}
	return out
}

// attemptJSON is one entry of the delivery log: what was sent (secrets
// left out) and what came back.
type attemptJSON struct {
	Attempt        int               `json:"attempt"`
	At             string            `json:"at"`
	DurationMS     float64           `json:"duration_ms"`
	URL            string            `json:"url"`
	RequestHeaders map[string]string `json:"request_headers"`
	RequestBody    string            `json:"request_body"`
	ResponseStatus int               `json:"response_status,omitempty"`
	ResponseBody   string            `json:"response_body,omitempty"`
	Error          string            `json:"error,omitempty"`
}

func toAttempt(a store.Attempt) attemptJSON {
	out := attemptJSON{
		Attempt: a.N, At: timeJSON(a.At), DurationMS: float64(a.Duration.Microseconds()) / 1000, URL: a.URL,
		RequestBody: string(a.RequestBody), ResponseStatus: a.Status, ResponseBody: string(a.ResponseBody), Error: a.Error,
	}
	_ = json.Unmarshal(a.RequestHeaders, &out.RequestHeaders)
	return out
}

// --- endpoints ---

type webhookInput struct {
	URL         *string  `json:"url"`
	Description *string  `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     *bool    `json:"enabled"`
}

func (in webhookInput) params() notify.EndpointInput {
	return notify.EndpointInput{URL: in.URL, Description: in.Description, EventTypes: in.EventTypes, Enabled: in.Enabled}
}

// createWebhook answers POST /coffer/v1/webhooks. The answer carries the
// secret, shown this once.
func (h *handler) createWebhook(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.webhookScope(r, key)
	if err != nil {
		return err
	}
	var in webhookInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	ep, err := h.webhooks.CreateEndpoint(r.Context(), mid, in.params())
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusCreated, toWebhook(ep, true))
	return nil
}

// listWebhooks answers GET /coffer/v1/webhooks.
func (h *handler) listWebhooks(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.webhookScope(r, key)
	if err != nil {
		return err
	}
	eps, err := h.webhooks.Endpoints(r.Context(), mid)
	if err != nil {
		return err
	}
	out := listJSON[webhookJSON]{Data: make([]webhookJSON, 0, len(eps))}
	for _, ep := range eps {
		out.Data = append(out.Data, toWebhook(ep, false))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) webhookID(r *http.Request) (int64, error) {
	id, ok := pathID(r)
	if !ok {
		return 0, notFound("webhook_not_found", "webhook endpoint not found")
	}
	return id, nil
}

// webhookTarget is the merchant a request acts for and the endpoint id in
// its path.
func (h *handler) webhookTarget(r *http.Request, key store.APIKey) (mid, id int64, err error) {
	if mid, err = h.webhookScope(r, key); err != nil {
		return 0, 0, err
	}
	id, err = h.webhookID(r)
	return mid, id, err
}

// getWebhook answers GET /coffer/v1/webhooks/{id}.
func (h *handler) getWebhook(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, id, err := h.webhookTarget(r, key)
	if err != nil {
		return err
	}
	ep, err := h.webhooks.Endpoint(r.Context(), mid, id)
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusOK, toWebhook(ep, false))
	return nil
}

// updateWebhook answers POST /coffer/v1/webhooks/{id}: the fields given
// change, the others stay. "enabled": true re-enables an endpoint (after a
// 410, say) and sends what waited for it.
func (h *handler) updateWebhook(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, id, err := h.webhookTarget(r, key)
	if err != nil {
		return err
	}
	var in webhookInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	ep, err := h.webhooks.UpdateEndpoint(r.Context(), mid, id, in.params())
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusOK, toWebhook(ep, false))
	return nil
}

// deleteWebhook answers POST /coffer/v1/webhooks/{id}/delete.
func (h *handler) deleteWebhook(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, id, err := h.webhookTarget(r, key)
	if err != nil {
		return err
	}
	if err := h.webhooks.DeleteEndpoint(r.Context(), mid, id); err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true})
	return nil
}

type rotateInput struct {
	// GraceSeconds keeps the old secret valid this long (default one day,
	// at most a week; 0 ends it at once).
	GraceSeconds *int64 `json:"grace_seconds"`
}

// rotateWebhook answers POST /coffer/v1/webhooks/{id}/rotate with the new
// secret, shown this once.
func (h *handler) rotateWebhook(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, id, err := h.webhookTarget(r, key)
	if err != nil {
		return err
	}
	var in rotateInput
	if r.ContentLength != 0 {
		if err := decode(w, r, maxBody, &in); err != nil {
			return err
		}
	}
	grace := time.Duration(0)
	if in.GraceSeconds != nil {
		if *in.GraceSeconds < 0 || *in.GraceSeconds > int64(notify.MaxGrace/time.Second) {
			return invalidField("grace_seconds", "grace_seconds must be between 0 and "+strconv.FormatInt(int64(notify.MaxGrace/time.Second), 10))
		}
		grace = time.Duration(*in.GraceSeconds) * time.Second
		if grace == 0 {
			grace = -1 // no grace period
		}
	}
	ep, err := h.webhooks.RotateSecret(r.Context(), mid, id, grace)
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusOK, toWebhook(ep, true))
	return nil
}

// --- events, deliveries, redelivery ---

// listEvents answers GET /coffer/v1/events?cursor=&limit=, oldest first.
func (h *handler) listEvents(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.webhookScope(r, key)
	if err != nil {
		return err
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	evs, err := h.webhooks.Events(r.Context(), mid, after, limit+1)
	if err != nil {
		return err
	}
	out := listJSON[eventJSON]{Data: make([]eventJSON, 0, min(len(evs), limit))}
	for i, ev := range evs {
		if i == limit {
			out.NextCursor = encodeCursor(evs[i-1].Seq)
			break
		}
		out.Data = append(out.Data, toEvent(ev))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getEvent answers GET /coffer/v1/events/{id}: the event, each of its
// deliveries and each delivery's log.
func (h *handler) getEvent(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.webhookScope(r, key)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	ev, err := h.webhooks.Event(r.Context(), mid, id)
	if err != nil {
		return webhookErr(err)
	}
	logs, err := h.webhooks.EventDeliveries(r.Context(), mid, id)
	if err != nil {
		return webhookErr(err)
	}
	out := toEvent(ev)
	out.Deliveries = make([]deliveryJSON, 0, len(logs))
	for _, l := range logs {
		d := toDelivery(l.Delivery)
		for _, a := range l.Log {
			d.Log = append(d.Log, toAttempt(a))
		}
		out.Deliveries = append(out.Deliveries, d)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redeliverEvent answers POST /coffer/v1/events/{id}/redeliver: the event
// goes again to each of its destinations.
func (h *handler) redeliverEvent(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.webhookScope(r, key)
	if err != nil {
		return err
	}
	n, err := h.webhooks.RedeliverEvent(r.Context(), mid, r.PathValue("id"))
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"redelivered": n})
	return nil
}

// listDeliveries answers GET
// /coffer/v1/deliveries?state=&webhook_id=&cursor=&limit=.
func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.webhookScope(r, key)
	if err != nil {
		return err
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	f := store.DeliveryFilter{MerchantID: mid, State: r.URL.Query().Get("state"), AfterID: after, Limit: limit + 1}
	if s := r.URL.Query().Get("webhook_id"); s != "" {
		if f.EndpointID, err = strconv.ParseInt(s, 10, 64); err != nil || f.EndpointID <= 0 {
			return invalidField("webhook_id", "webhook_id must be a webhook endpoint id")
		}
	}
	ds, err := h.webhooks.Deliveries(r.Context(), f)
	if err != nil {
		return webhookErr(err)
	}
	out := listJSON[deliveryJSON]{Data: make([]deliveryJSON, 0, min(len(ds), limit))}
	for i, d := range ds {
		if i == limit {
			out.NextCursor = encodeCursor(ds[i-1].ID)
			break
		}
		out.Data = append(out.Data, toDelivery(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type redeliverInput struct {
	FailedSince string `json:"failed_since"` // RFC 3339
}

// redeliverFailed answers POST /coffer/v1/deliveries/redeliver: every
// delivery that failed at or after failed_since goes again.
func (h *handler) redeliverFailed(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.webhookScope(r, key)
	if err != nil {
		return err
	}
	var in redeliverInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	since, err := time.Parse(time.RFC3339Nano, in.FailedSince)
	if err != nil {
		return invalidField("failed_since", `failed_since is required: an RFC 3339 time such as "2025-03-14T15:00:00Z"`)
	}
	n, err := h.webhooks.RedeliverFailed(r.Context(), mid, since)
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"redelivered": n})
	return nil
}
