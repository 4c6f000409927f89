package api

import (
	"bytes"
	"encoding/json"
	"math/big"
	"time"

	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// Wire types of the answers. Amounts are decimal strings at the asset's
// scale; times are RFC 3339 in UTC with at most microsecond precision (what
// both databases keep, so that a replay answers byte for byte the same).

type assetJSON struct {
	Code      string `json:"code"`
	Scale     int    `json:"scale"`
	Kind      string `json:"kind"`
	CreatedAt string `json:"created_at"`
}

type accountJSON struct {
	ID             int64           `json:"id"`
	Asset          string          `json:"asset"`
	Scale          int             `json:"scale"`
	Name           string          `json:"name"`
	Normal         string          `json:"normal"`
	OverdraftLimit string          `json:"overdraft_limit"`
	Unlimited      bool            `json:"unlimited"`
	Balance        string          `json:"balance"`
	Pending        string          `json:"pending"`
	Available      string          `json:"available"`
	DebitsPosted   string          `json:"debits_posted"`
	CreditsPosted  string          `json:"credits_posted"`
	DebitsPending  string          `json:"debits_pending"`
	CreditsPending string          `json:"credits_pending"`
	Key            string          `json:"key,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	CreatedAt      string          `json:"created_at"`
}

type transferJSON struct {
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

type listJSON[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// outcomeJSON answers a lookup by idempotency key.
type outcomeJSON struct {
	Key      string        `json:"key"`
	Status   string        `json:"status"` // "succeeded" or "failed"
	Transfer *transferJSON `json:"transfer,omitempty"`
	Error    *wireError    `json:"error,omitempty"`
}

type batchItemJSON struct {
	Transfer *transferJSON `json:"transfer,omitempty"`
	Error    *wireError    `json:"error,omitempty"`
	Replayed bool          `json:"replayed,omitempty"`
}

type batchJSON struct {
	Results []batchItemJSON `json:"results"`
}

func timeJSON(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

func toAsset(a store.Asset) assetJSON {
	return assetJSON{Code: a.Code, Scale: a.Scale, Kind: a.Kind, CreatedAt: timeJSON(a.CreatedAt)}
}

func toAccount(a store.Account, scale int) accountJSON {
	// balance is posted money on the account's normal side; pending is
	// what holds take away from it.
	balance := a.CreditsPosted - a.DebitsPosted // counters are >= 0: no overflow
	pending := a.DebitsPending
	if a.Normal == store.Debit {
		balance = -balance
		pending = a.CreditsPending
	}
	var available string
	if v, err := money.Sub(balance, pending); err == nil {
		available = money.Format(v, scale)
	} else {
		available = formatBig(new(big.Int).Sub(big.NewInt(balance), big.NewInt(pending)), scale)
	}
	return accountJSON{
		ID:             a.ID,
		Asset:          a.Asset,
		Scale:          scale,
		Name:           a.Name,
		Normal:         string(a.Normal),
		OverdraftLimit: money.Format(a.OverdraftLimit, scale),
		Unlimited:      a.Unlimited,
		Balance:        money.Format(balance, scale),
		Pending:        money.Format(pending, scale),
		Available:      available,
		DebitsPosted:   money.Format(a.DebitsPosted, scale),
		CreditsPosted:  money.Format(a.CreditsPosted, scale),
		DebitsPending:  money.Format(a.DebitsPending, scale),
		CreditsPending: money.Format(a.CreditsPending, scale),
		Key:            a.Key,
		Metadata:       metadataJSON(a.Metadata),
		CreatedAt:      timeJSON(a.CreatedAt),
	}
}

// formatBig formats an exact integer of minor units beyond int64.
func formatBig(v *big.Int, scale int) string {
	s := new(big.Int).Abs(v).String()
	if scale > 0 {
		for len(s) <= scale {
			s = "0" + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if v.Sign() < 0 {
		return "-" + s
	}
	return s
}

func toTransfer(t store.Transfer, scale int) transferJSON {
	out := transferJSON{
		ID:              t.ID,
		Key:             t.Key,
		Kind:            t.Kind,
		DebitAccountID:  t.DebitAccountID,
		CreditAccountID: t.CreditAccountID,
		Asset:           t.Asset,
		Amount:          money.Format(t.Amount, scale),
		PendingID:       t.PendingID,
		State:           t.State,
		Metadata:        metadataJSON(t.Metadata),
		CreatedAt:       timeJSON(t.CreatedAt),
	}
	if t.TimeoutAt != nil {
		out.TimeoutAt = timeJSON(*t.TimeoutAt)
	}
	return out
}

// metadataJSON re-encodes stored metadata in one canonical form (sorted
// keys, no spaces, numbers as written), so that both databases answer the
// same bytes: PostgreSQL's jsonb reorders keys and adds spaces.
func metadataJSON(raw []byte) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return json.RawMessage(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(raw)
	}
	return b
}
