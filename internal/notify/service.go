// Package notify delivers the outbox: every event a change wrote (in the
// same transaction as the change) reaches the merchant, as a native webhook
// signed in the Standard Webhooks scheme and as the dialect-shaped callbacks
// and postbacks its producer asked for, retried with backoff until received
// or given up, with a log of every attempt.
//
// The flow, all state in the database:
//
//	events ──fan-out──► deliveries (one per event and destination) ──claim──► HTTP POST ──► delivery_attempts
//
// A destination is a merchant's webhook endpoint whose event-type filter
// matches, or a store.Target the producer wrote with its event (Emit). The
// Dispatcher does the fan-out, claims and attempts; Service is the
// management side (endpoints, the delivery log, redelivery) for the native
// API and the CLI; Subscriptions lets producers skip events nobody
// receives. Each format is a Format: Webhooks, MugglePay, Paykassma.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
)

// Errors of the Service. Input errors are *InputError.
var (
	ErrEndpointNotFound = errors.New("webhook endpoint not found")
	ErrEventNotFound    = errors.New("event not found")
)

// InputError is a request the Service refuses; Field names the input at
// fault.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// Limits.
const (
	maxDescriptionLen = 500
	// DefaultGrace is how long a rotated secret stays valid by default.
	DefaultGrace = 24 * time.Hour
	// MaxGrace bounds a rotation's grace period.
	MaxGrace = 7 * 24 * time.Hour
)

// ServiceOptions configure a Service.
type ServiceOptions struct {
	// Subscriptions, if set, is refreshed after every endpoint change.
	Subscriptions *Subscriptions
	// Nudge, if set, wakes the dispatcher after a redelivery.
	Nudge func()
	// AllowPrivate accepts endpoint URLs on private addresses.
	AllowPrivate bool
	// Box, if set, seals signing secrets before they are stored.
	Box SecretBox
	Now func() time.Time
}

// Service manages webhook endpoints, reads the delivery log and redelivers.
// Every method takes the merchant it acts for; 0 means any merchant (the
// operator's CLI).
type Service struct {
	st  store.Store
	opt ServiceOptions
}

// NewService returns a Service over st.
func NewService(st store.Store, opt ServiceOptions) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{st: st, opt: opt}
}

func (s *Service) now() time.Time { return s.opt.Now().UTC().Truncate(time.Microsecond) }

// EndpointInput is what a create or an update sets; nil fields are left
// as they are (a create needs URL and EventTypes).
type EndpointInput struct {
	URL         *string
	Description *string
	EventTypes  []string
	Enabled     *bool
}

func (s *Service) apply(ep *store.WebhookEndpoint, in EndpointInput) error {
	if in.URL != nil {
		if err := CheckURL(*in.URL, s.opt.AllowPrivate); err != nil {
			return &InputError{Field: "url", Message: err.Error()}
		}
		ep.URL = *in.URL
	}
	if in.Description != nil {
		if len(*in.Description) > maxDescriptionLen {
			return &InputError{Field: "description", Message: fmt.Sprintf("at most %d bytes", maxDescriptionLen)}
		}
		ep.Description = *in.Description
	}
	if in.EventTypes != nil {
		if err := checkFilters(in.EventTypes); err != nil {
			return &InputError{Field: "event_types", Message: err.Error()}
		}
		ep.EventTypes = append([]string(nil), in.EventTypes...)
	}
	if in.Enabled != nil {
		ep.Enabled = *in.Enabled
		if ep.Enabled {
			ep.DisabledReason = ""
		}
	}
	return nil
}

// CreateEndpoint adds an endpoint with a new secret. The returned
// endpoint carries the secret: show it once.
func (s *Service) CreateEndpoint(ctx context.Context, merchantID int64, in EndpointInput) (store.WebhookEndpoint, error) {
	if in.URL == nil {
		return store.WebhookEndpoint{}, &InputError{Field: "url", Message: "a URL is required"}
	}
	if in.EventTypes == nil {
		return store.WebhookEndpoint{}, &InputError{Field: "event_types", Message: `give at least one event type, such as "transfer.*" or "*"`}
	}
	now := s.now()
	ep := store.WebhookEndpoint{MerchantID: merchantID, Enabled: true, Secret: NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.apply(&ep, in); err != nil {
		return store.WebhookEndpoint{}, err
	}
	if merchantID <= 0 {
		return store.WebhookEndpoint{}, &InputError{Field: "merchant", Message: "a merchant is required"}
	}
	plain := ep.Secret
	ep.Secret = sealSecret(s.opt.Box, merchantID, plain)
	if err := s.st.InsertWebhookEndpoint(ctx, &ep); err != nil {
		return store.WebhookEndpoint{}, err
	}
	s.changed(ctx)
	ep.Secret = plain // shown once
	return ep, nil
}

// Endpoint reads one of the merchant's endpoints.
func (s *Service) Endpoint(ctx context.Context, merchantID, id int64) (store.WebhookEndpoint, error) {
	ep, err := s.st.WebhookEndpoint(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && merchantID != 0 && ep.MerchantID != merchantID {
		return store.WebhookEndpoint{}, ErrEndpointNotFound
	}
	return ep, err
}

// Endpoints lists the merchant's endpoints.
func (s *Service) Endpoints(ctx context.Context, merchantID int64) ([]store.WebhookEndpoint, error) {
	return s.st.WebhookEndpoints(ctx, merchantID)
}

// UpdateEndpoint changes an endpoint. Enabling it again clears its failing
// state and makes what waited for it due at once.
func (s *Service) UpdateEndpoint(ctx context.Context, merchantID, id int64, in EndpointInput) (store.WebhookEndpoint, error) {
	ep, err := s.Endpoint(ctx, merchantID, id)
	if err != nil {
		return ep, err
	}
	if err := s.apply(&ep, in); err != nil {
		return store.WebhookEndpoint{}, err
	}
	ep.UpdatedAt = s.now()
	if err := s.st.UpdateWebhookEndpoint(ctx, ep); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.WebhookEndpoint{}, ErrEndpointNotFound
		}
		return store.WebhookEndpoint{}, err
	}
	s.changed(ctx)
	return s.Endpoint(ctx, merchantID, id)
}

// DeleteEndpoint removes an endpoint; its pending deliveries are
// cancelled, its log is kept.
func (s *Service) DeleteEndpoint(ctx context.Context, merchantID, id int64) error {
	if _, err := s.Endpoint(ctx, merchantID, id); err != nil {
		return err
	}
	if err := s.st.DeleteWebhookEndpoint(ctx, id, s.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrEndpointNotFound
		}
		return err
	}
	s.changed(ctx)
	return nil
}

// RotateSecret gives an endpoint a new secret. The old one stays valid
// for grace (0: DefaultGrace; negative: not at all), and meanwhile every
// request carries both signatures. A second rotation within the grace
// period ends the first one's: only one previous secret is kept.
func (s *Service) RotateSecret(ctx context.Context, merchantID, id int64, grace time.Duration) (store.WebhookEndpoint, error) {
	if grace > MaxGrace {
		return store.WebhookEndpoint{}, &InputError{Field: "grace", Message: fmt.Sprintf("at most %s", MaxGrace)}
	}
	if grace == 0 {
		grace = DefaultGrace
	}
	ep, err := s.Endpoint(ctx, merchantID, id)
	if err != nil {
		return ep, err
	}
	now := s.now()
	ep.PrevSecret, ep.PrevExpiresAt = "", nil
	if grace > 0 {
		exp := now.Add(grace)
		ep.PrevSecret, ep.PrevExpiresAt = ep.Secret, &exp
	}
	plain := NewSecret()
	ep.Secret, ep.UpdatedAt = sealSecret(s.opt.Box, ep.MerchantID, plain), now
	if err := s.st.UpdateWebhookEndpoint(ctx, ep); err != nil {
		return store.WebhookEndpoint{}, err
	}
	ep.Secret = plain // shown once
	return ep, nil
}

// Events lists the merchant's events after seq, oldest first.
func (s *Service) Events(ctx context.Context, merchantID, afterSeq int64, limit int) ([]store.Event, error) {
	return s.st.Events(ctx, merchantID, afterSeq, limit)
}

// Event reads one of the merchant's events.
func (s *Service) Event(ctx context.Context, merchantID int64, id string) (store.Event, error) {
	ev, err := s.st.EventByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && merchantID != 0 && ev.MerchantID != merchantID {
		return store.Event{}, ErrEventNotFound
	}
	return ev, err
}

// DeliveryLog is a delivery with its attempts.
type DeliveryLog struct {
	store.Delivery
	Log []store.Attempt
}

// EventDeliveries returns an event's deliveries, each with its log.
func (s *Service) EventDeliveries(ctx context.Context, merchantID int64, eventID string) ([]DeliveryLog, error) {
	if _, err := s.Event(ctx, merchantID, eventID); err != nil {
		return nil, err
	}
	ds, err := s.st.Deliveries(ctx, store.DeliveryFilter{MerchantID: merchantID, EventID: eventID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := make([]DeliveryLog, len(ds))
	for i, d := range ds {
		as, err := s.st.Attempts(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		out[i] = DeliveryLog{Delivery: d, Log: as}
	}
	return out, nil
}

// Deliveries lists deliveries (f.MerchantID scopes them).
func (s *Service) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	switch f.State {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryCancelled:
	default:
		return nil, &InputError{Field: "state", Message: "state must be pending, delivered, failed or cancelled"}
	}
	return s.st.Deliveries(ctx, f)
}

// RedeliverEvent sends an event again to each of its destinations (those
// delivered included), with a fresh retry series, and returns how many.
func (s *Service) RedeliverEvent(ctx context.Context, merchantID int64, eventID string) (int, error) {
	if _, err := s.Event(ctx, merchantID, eventID); err != nil {
		return 0, err
	}
	n, err := s.st.Redeliver(ctx, store.Redelivery{MerchantID: merchantID, EventID: eventID, Now: s.now()})
	if err == nil && n > 0 && s.opt.Nudge != nil {
		s.opt.Nudge()
	}
	return n, err
}

// RedeliverFailed sends again every delivery that failed at or after
// since: given up, or waiting for a retry after a failure.
func (s *Service) RedeliverFailed(ctx context.Context, merchantID int64, since time.Time) (int, error) {
	if since.IsZero() {
		return 0, &InputError{Field: "failed_since", Message: "a time is required"}
	}
	n, err := s.st.Redeliver(ctx, store.Redelivery{MerchantID: merchantID, FailedSince: since.UTC(), Now: s.now()})
	if err == nil && n > 0 && s.opt.Nudge != nil {
		s.opt.Nudge()
	}
	return n, err
}

// changed refreshes the subscriptions after an endpoint change.
func (s *Service) changed(ctx context.Context) {
	if s.opt.Subscriptions != nil {
		_ = s.opt.Subscriptions.Refresh(ctx) // the periodic refresh catches up on failure
	}
}

// Emit emits an event from a ledger operation (ledger.Do) with explicit
// destinations: the event, its targets and the operation's other changes
// commit together. The event's id is set if empty.
func Emit(ctx context.Context, x *ledger.Exec, ev store.Event, targets ...store.Target) error {
	if ev.ID == "" {
		ev.ID = store.NewEventID()
	}
	if len(targets) > 0 {
		if err := x.Tx().InsertTargets(ctx, ev.ID, targets); err != nil {
			return err
		}
	}
	x.Emit(ev)
	return nil
}
