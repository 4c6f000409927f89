package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// Transfer event types, emitted only for merchants with an endpoint
// subscribed to them.
const (
	EventTransferPosted  = "transfer.posted"  // a single transfer, or the posting of a hold
	EventTransferPending = "transfer.pending" // a hold
	EventTransferVoided  = "transfer.voided"  // a hold voided
	EventTransferExpired = "transfer.expired" // a hold reached its timeout
)

// DefaultRefresh is how often Subscriptions re-reads the endpoints, to see
// changes made by other nodes and by the CLI.
const DefaultRefresh = 5 * time.Second

// Subscriptions knows, from the store's webhook endpoints, which merchants
// listen to which event types, so that producers skip the events nobody
// would receive: the ledger's hot path pays one map lookup per transfer,
// and nothing when no endpoint exists. It is refreshed after every change
// made through this process's Service and every refresh interval (Run).
type Subscriptions struct {
	st   store.Store
	log  *slog.Logger
	snap atomic.Pointer[map[int64][]string] // merchant → filters of its enabled endpoints

	scaleMu sync.RWMutex
	scales  map[string]int // asset code → scale

	emitted atomic.Bool
}

// NewSubscriptions returns an empty cache: call Refresh (or Run) to fill it.
func NewSubscriptions(st store.Store, log *slog.Logger) *Subscriptions {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Subscriptions{st: st, log: log, scales: map[string]int{}}
	empty := map[int64][]string{}
	s.snap.Store(&empty)
	return s
}

// Refresh re-reads the endpoints (and the assets, for transfer events).
func (s *Subscriptions) Refresh(ctx context.Context) error {
	eps, err := s.st.WebhookEndpoints(ctx, 0)
	if err != nil {
		return err
	}
	m := map[int64][]string{}
	for _, ep := range eps {
		if ep.Enabled {
			m[ep.MerchantID] = append(m[ep.MerchantID], ep.EventTypes...)
		}
	}
	s.snap.Store(&m)
	if len(m) > 0 {
		as, err := s.st.Assets(ctx)
		if err != nil {
			return err
		}
		s.scaleMu.Lock()
		for _, a := range as {
			s.scales[a.Code] = a.Scale
		}
		s.scaleMu.Unlock()
	}
	return nil
}

// Run refreshes the cache every interval (DefaultRefresh if <= 0) until
// ctx ends.
func (s *Subscriptions) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("notify: refresh webhook subscriptions", "err", err)
		}
	}
}

// Wants reports whether a merchant has an enabled endpoint for the type.
func (s *Subscriptions) Wants(merchantID int64, typ string) bool {
	m := *s.snap.Load()
	if len(m) == 0 {
		return false
	}
	return matches(m[merchantID], typ)
}

// TakeEmitted reports whether TransferEvent emitted an event since the
// last call, and resets it: the ledger's OnBatch uses it to wake the
// dispatcher after a commit only when there is something to send.
func (s *Subscriptions) TakeEmitted() bool {
	return s.emitted.Load() && s.emitted.Swap(false)
}

// transferData is a transfer in an event: the native API's transfer object.
type transferData struct {
	ID              int64           `json:"id"`
	Key             string          `json:"key"`
	Kind            string          `json:"kind"`
	DebitAccountID  int64           `json:"debit_account_id"`
	CreditAccountID int64           `json:"credit_account_id"`
	Asset           string          `json:"asset"`
	Amount          string          `json:"amount"`
	PendingID       int64           `json:"pending_id,omitempty"`
	State           string          `json:"state"`
	TimeoutAt       string          `json:"timeout_at,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	CreatedAt       string          `json:"created_at"`
}

// TransferEvent is the ledger's hook (ledger.Options.TransferEvent): the
// outbox event of a new transfer, if its merchant listens for it. Events of
// one hold (pending, then posted, voided or expired) share the subject
// "transfer:<hold id>", so they arrive in order.
func (s *Subscriptions) TransferEvent(t *store.Transfer) (store.Event, bool) {
	m := *s.snap.Load()
	if len(m) == 0 {
		return store.Event{}, false
	}
	filters := m[t.MerchantID]
	if len(filters) == 0 {
		return store.Event{}, false
	}
	typ, subject := EventTransferPosted, t.ID
	switch t.Kind {
	case store.KindPending:
		typ = EventTransferPending
	case store.KindPost:
		subject = t.PendingID
	case store.KindVoid:
		typ, subject = EventTransferVoided, t.PendingID
	case store.KindExpire:
		typ, subject = EventTransferExpired, t.PendingID
	}
	if !matches(filters, typ) {
		return store.Event{}, false
	}
	scale, err := s.scale(t.Asset)
	if err != nil {
		s.log.Error("notify: transfer event without its asset's scale; event not sent", "transfer", t.ID, "asset", t.Asset, "err", err)
		return store.Event{}, false
	}
	d := transferData{
		ID: t.ID, Key: t.Key, Kind: t.Kind, DebitAccountID: t.DebitAccountID, CreditAccountID: t.CreditAccountID,
		Asset: t.Asset, Amount: money.Format(t.Amount, scale), PendingID: t.PendingID, State: t.State,
		CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339Nano),
	}
	if t.TimeoutAt != nil {
		d.TimeoutAt = t.TimeoutAt.UTC().Format(time.RFC3339Nano)
	}
	if len(t.Metadata) > 0 && json.Valid(t.Metadata) {
		d.Metadata = t.Metadata
	}
	payload, err := marshalNoEscape(d)
	if err != nil {
		return store.Event{}, false
	}
	s.emitted.Store(true)
	return store.Event{
		ID:         store.NewEventID(),
		MerchantID: t.MerchantID,
		Type:       typ,
		Subject:    "transfer:" + strconv.FormatInt(subject, 10),
		Payload:    payload,
		CreatedAt:  t.CreatedAt,
	}, true
}

// scale returns an asset's scale, from the cache or else the store (a
// read, outside the caller's transaction).
func (s *Subscriptions) scale(code string) (int, error) {
	s.scaleMu.RLock()
	sc, ok := s.scales[code]
	s.scaleMu.RUnlock()
	if ok {
		return sc, nil
	}
	if sc, iso := money.CurrencyScale(code); iso {
		return sc, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := s.st.Asset(ctx, code)
	if err != nil {
		return 0, errors.Join(errors.New("asset "+code), err)
	}
	s.scaleMu.Lock()
	s.scales[code] = a.Scale
	s.scaleMu.Unlock()
	return a.Scale, nil
}
