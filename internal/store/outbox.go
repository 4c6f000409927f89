package store

import (
	"crypto/rand"
	"encoding/base32"
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

// OutboxStore holds the reads and writes of event delivery: endpoints,
// deliveries and their log. (Filled in with the notifications domain.)
type OutboxStore interface{}

// OutboxTx holds outbox writes that must commit with a ledger batch.
type OutboxTx interface{}
