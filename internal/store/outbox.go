package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"strings"
	"time"
)

// Event is one outbox row: a state change a merchant must hear about,
// written in the same transaction as the change itself. Delivery (native
// webhooks, dialect callbacks and postbacks) reads events from the outbox.
type Event struct {
	Seq        int64  // assigned by the store: the outbox order
	ID         string // stable public id (evt_…), for receivers to drop duplicates
	MerchantID int64
	Type       string // e.g. "transfer.posted", "order.paid", "payment.confirmed"
	// Subject groups events that must be delivered in order, such as
	// "order:42" or "deposit:7".
	Subject   string
	Payload   []byte // JSON object, the event's data
	CreatedAt time.Time
}

var eventIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewEventID returns a new random event id: "evt_" and 26 base32
// characters (128 bits from crypto/rand).
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "evt_" + strings.ToLower(eventIDEncoding.EncodeToString(b[:]))
}

// Delivery formats. A format names how a delivery is encoded and signed
// and what answer counts as received; package notify holds one encoder per
// format.
const (
	FormatWebhook   = "webhook"   // native: Standard Webhooks, to a merchant's endpoint
	FormatMugglePay = "mugglepay" // MugglePay payment callback
	FormatPaykassma = "paykassma" // Paykassma postback
)

// States of a delivery.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt, or being attempted
	DeliveryDelivered = "delivered" // the receiver accepted it
	DeliveryFailed    = "failed"    // given up: its retry window passed, or the receiver refused it for good
	DeliveryCancelled = "cancelled" // its endpoint was deleted first
)

// Target is one explicit destination of an event, named by the event's
// producer: "deliver this event to URL in Format" (a MugglePay order's
// callback_url, a merchant's Paykassma postback URL). Native webhook
// endpoints need no target: they are matched by their type filter.
type Target struct {
	Format string
	URL    string
	// Data is what the format's encoder builds the body from: a JSON object
	// in the format's own input shape. Empty means the event's Payload.
	Data []byte
}

// WebhookEndpoint is a merchant's native webhook endpoint.
type WebhookEndpoint struct {
	ID          int64
	MerchantID  int64
	URL         string
	Description string
	// EventTypes filters the events sent: exact types ("order.paid"),
	// prefixes ("order.*") or "*" for every event.
	EventTypes []string
	Secret     string // whsec_…
	// PrevSecret is the secret a rotation replaced; it stays valid (and is
	// signed with too) until PrevExpiresAt.
	PrevSecret    string
	PrevExpiresAt *time.Time
	Enabled       bool
	// DisabledReason says why the dispatcher disabled the endpoint
	// ("gone": it answered 410); "" when an operator did.
	DisabledReason string
	Failures       int        // consecutive failed attempts
	FailingSince   *time.Time // set after repeated failures; cleared by a success
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Delivery is one event to one destination: a webhook endpoint, or a
// target the event named.
type Delivery struct {
	ID         int64
	EventSeq   int64
	EventID    string
	EventType  string
	MerchantID int64
	Subject    string
	EndpointID int64 // 0 for a target
	Format     string
	URL        string // a target's URL; "" for an endpoint (whose URL may change)
	Data       []byte // a target's Data
	State      string
	Attempts   int // attempts made, in all
	// Retries counts the failed attempts of the current series, which
	// began at SeriesAt (fan-out, or a manual redelivery): the retry
	// schedule is indexed by Retries and bounded by SeriesAt.
	Retries    int
	SeriesAt   time.Time
	NextAt     time.Time
	LastAt     *time.Time
	LastStatus int
	LastError  string
	CreatedAt  time.Time
	DoneAt     *time.Time // when it was delivered, failed for good or cancelled
}

// Attempt is one entry of the delivery log: one HTTP request and what came
// back. Headers and body are as sent, with secrets left out.
type Attempt struct {
	ID             int64
	DeliveryID     int64
	N              int // 1 for the first attempt of the delivery
	At             time.Time
	Duration       time.Duration
	URL            string
	RequestHeaders []byte // JSON object: name → value
	RequestBody    []byte
	Status         int    // 0 when no answer came
	ResponseBody   []byte // its first bytes
	Error          string
}

// Claim is a delivery taken for an attempt, with what the attempt needs.
type Claim struct {
	Delivery Delivery
	Event    Event
	Endpoint *WebhookEndpoint // nil for a target
	Token    string           // proves the claim when the attempt is recorded
}

// AttemptResult is the outcome of a claimed delivery's attempt.
type AttemptResult struct {
	Claim     *Claim
	Attempt   Attempt
	Delivered bool
	// GiveUp ends a failed delivery (state failed) instead of scheduling
	// NextAt.
	GiveUp bool
	NextAt time.Time
	// DisableEndpoint, when not empty, disables the delivery's endpoint
	// with that reason.
	DisableEndpoint string
	// FailingAfter is how many consecutive failures mark the endpoint
	// failing.
	FailingAfter int
}

// DeliveryFilter selects deliveries, ascending by id after AfterID.
type DeliveryFilter struct {
	MerchantID int64 // 0: every merchant
	EventID    string
	EndpointID int64
	State      string
	AfterID    int64
	Limit      int
}

// Redelivery selects deliveries to send again: those of one event, or
// those that failed at or after FailedSince (given up, or pending after a
// failed attempt).
type Redelivery struct {
	MerchantID  int64 // 0: every merchant
	EventID     string
	FailedSince time.Time
	Now         time.Time // they become due then, with a fresh retry series
}

// OutboxStore holds the reads and writes of event delivery: webhook
// endpoints, the fan-out of events into deliveries, claiming and recording
// attempts, and the delivery log.
type OutboxStore interface {
	// InsertWebhookEndpoint stores a new endpoint and sets its ID.
	InsertWebhookEndpoint(ctx context.Context, ep *WebhookEndpoint) error
	// UpdateWebhookEndpoint writes an endpoint's settings (URL,
	// description, types, secrets, enabled, disabled reason, updated
	// time). Re-enabling it makes its pending deliveries due at UpdatedAt
	// and clears its failure count.
	UpdateWebhookEndpoint(ctx context.Context, ep WebhookEndpoint) error
	// DeleteWebhookEndpoint removes an endpoint from use and cancels its
	// pending deliveries; its delivery log stays.
	DeleteWebhookEndpoint(ctx context.Context, id int64, now time.Time) error
	// WebhookEndpoint reads an endpoint that is not deleted.
	WebhookEndpoint(ctx context.Context, id int64) (WebhookEndpoint, error)
	// WebhookEndpoints lists the endpoints of a merchant (0: all) in id
	// order, deleted ones left out.
	WebhookEndpoints(ctx context.Context, merchantID int64) ([]WebhookEndpoint, error)

	// FanOut takes up to limit events that have not been fanned out, in
	// seq order, and in one transaction inserts for each the deliveries
	// route returns (given the event, its targets and the merchant's
	// enabled endpoints), then marks it fanned out. Several nodes may fan
	// out at once; each takes other events. It returns how many events it
	// took.
	FanOut(ctx context.Context, now time.Time, limit int, route func(ev Event, targets []Target, eps []WebhookEndpoint) []Delivery) (int, error)
	// ClaimDeliveries takes up to limit pending deliveries that are due at
	// now, not claimed by anyone (or whose claim expired), whose endpoint
	// is enabled, and that are the oldest undelivered event of their
	// subject for their destination; it holds them until now+lease.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Claim, error)
	// RecordAttempt logs an attempt and, if the claim still holds, moves
	// the delivery on and updates its endpoint's health. A delivery
	// redelivered or cancelled while the attempt ran only counts it and
	// gets its claim back. It reports whether the claim held.
	RecordAttempt(ctx context.Context, r AttemptResult) (bool, error)
	// ReleaseClaims gives back claims not recorded (at shutdown), so that
	// another node need not wait for them to expire.
	ReleaseClaims(ctx context.Context, tokens []string) error
	// CountDueDeliveries counts pending deliveries due at now.
	CountDueDeliveries(ctx context.Context, now time.Time) (int, error)

	// EventByID reads an event by its public id.
	EventByID(ctx context.Context, id string) (Event, error)
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// Attempts returns a delivery's log, oldest first.
	Attempts(ctx context.Context, deliveryID int64) ([]Attempt, error)
	// Redeliver makes the selected deliveries pending and due, and returns
	// how many it selected. Cancelled deliveries are left alone.
	Redeliver(ctx context.Context, r Redelivery) (int, error)
}

// OutboxTx holds outbox writes that must commit with a ledger batch.
type OutboxTx interface {
	// InsertTargets records explicit destinations of the event with that
	// id, emitted in the same transaction (see notify.Emit).
	InsertTargets(ctx context.Context, eventID string, ts []Target) error
}

// Dest is the key that orders a delivery among its destination's
// deliveries: "e:<endpoint id>" for a webhook endpoint, "t:<format> <url>"
// for a target.
func (d *Delivery) Dest() string {
	if d.EndpointID != 0 {
		return "e:" + strconv.FormatInt(d.EndpointID, 10)
	}
	return "t:" + d.Format + " " + d.URL
}
