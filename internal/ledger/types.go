package ledger

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Limits on request fields.
const (
	MaxKeyLen      = 128
	MaxMetadataLen = 4096
	MaxNameLen     = 200
	// MaxBatch is the most transfers one call to Transfer may carry.
	MaxBatch = 8000
)

// TransferRequest asks the engine to move money. Exactly one of these forms:
//   - a single-phase transfer: DebitAccountID, CreditAccountID, Amount;
//   - a pending transfer (a hold): the same plus Pending, optionally Timeout;
//   - posting a hold: PostPendingID, optionally Amount (0 posts all of it);
//   - voiding a hold: VoidPendingID.
//
// Key is the client's idempotency key, unique per merchant.
type TransferRequest struct {
	Key             string
	DebitAccountID  int64
	CreditAccountID int64
	Asset           string // optional; when set it must match both accounts
	Amount          int64  // minor units
	Pending         bool
	Timeout         time.Duration // pending only; 0 means no timeout
	PostPendingID   int64
	VoidPendingID   int64
	// Linked joins this transfer to the next one in the same call: the whole
	// chain commits or fails together.
	Linked   bool
	Metadata json.RawMessage // a JSON object, at most MaxMetadataLen bytes
}

// kind returns the transfer kind the request creates.
func (r *TransferRequest) kind() string {
	switch {
	case r.PostPendingID != 0:
		return store.KindPost
	case r.VoidPendingID != 0:
		return store.KindVoid
	case r.Pending:
		return store.KindPending
	default:
		return store.KindSingle
	}
}

func (r *TransferRequest) pendingID() int64 {
	switch {
	case r.PostPendingID != 0:
		return r.PostPendingID
	default:
		return r.VoidPendingID
	}
}

// Result is the outcome of one TransferRequest.
type Result struct {
	Transfer store.Transfer // valid when Err is nil
	Err      *Error
	// Replayed is true when the key had been seen before and this is the
	// original outcome, returned again without any new effect.
	Replayed bool
}

// AccountRequest asks the engine to open an account.
type AccountRequest struct {
	Key            string // optional idempotency key
	Asset          string
	Name           string
	Normal         store.Side // default credit (a liability such as a wallet)
	OverdraftLimit int64
	Unlimited      bool
	Metadata       json.RawMessage
}

// canon is the comparable form of a transfer request, stored with failures
// and rebuilt from transfers, so a retry can be checked field by field.
type canon struct {
	Kind      string          `json:"kind"`
	Debit     int64           `json:"debit_account_id,omitempty"`
	Credit    int64           `json:"credit_account_id,omitempty"`
	Asset     string          `json:"asset,omitempty"`
	Amount    int64           `json:"amount,omitempty"`
	PendingID int64           `json:"pending_id,omitempty"`
	Timeout   int64           `json:"timeout_ms,omitempty"`
	Linked    bool            `json:"linked,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

func canonOf(r *TransferRequest) canon {
	return canon{
		Kind:      r.kind(),
		Debit:     r.DebitAccountID,
		Credit:    r.CreditAccountID,
		Asset:     r.Asset,
		Amount:    r.Amount,
		PendingID: r.pendingID(),
		Timeout:   r.Timeout.Milliseconds(),
		Linked:    r.Linked,
		Metadata:  r.Metadata,
	}
}

// diffFailed names the first field in which a retried request differs from
// the request that failed under the same key, or "" if none does.
func diffFailed(stored []byte, r *TransferRequest) string {
	var old canon
	if err := json.Unmarshal(stored, &old); err != nil {
		return "request"
	}
	now := canonOf(r)
	switch {
	case old.Kind != now.Kind:
		return kindField(now.Kind)
	case old.Debit != now.Debit:
		return "debit_account_id"
	case old.Credit != now.Credit:
		return "credit_account_id"
	case old.Asset != now.Asset:
		return "asset"
	case old.Amount != now.Amount:
		return "amount"
	case old.PendingID != now.PendingID:
		return "pending_id"
	case old.Timeout != now.Timeout:
		return "timeout"
	case old.Linked != now.Linked:
		return "linked"
	case !sameJSON(old.Metadata, now.Metadata):
		return "metadata"
	}
	return ""
}

// diffTransfer names the first field in which a request differs from the
// transfer its key created, or "" if none does. Fields the request leaves to
// the engine (the asset, a post's amount, a post or void's accounts) are
// not compared when the request omits them.
func diffTransfer(t *store.Transfer, r *TransferRequest) string {
	k := r.kind()
	switch {
	case t.Kind != k:
		return kindField(k)
	case k == store.KindPost || k == store.KindVoid || k == store.KindExpire:
		if t.PendingID != r.pendingID() {
			return "pending_id"
		}
		if k == store.KindPost && r.Amount != 0 && r.Amount != t.Amount {
			return "amount"
		}
	default:
		switch {
		case t.DebitAccountID != r.DebitAccountID:
			return "debit_account_id"
		case t.CreditAccountID != r.CreditAccountID:
			return "credit_account_id"
		case r.Asset != "" && t.Asset != r.Asset:
			return "asset"
		case t.Amount != r.Amount:
			return "amount"
		}
	}
	if !sameJSON(t.Metadata, r.Metadata) {
		return "metadata"
	}
	return ""
}

// sameJSON compares two JSON documents by value, so that a database that
// stores JSON in its own form (PostgreSQL's jsonb reorders keys) still
// compares equal. Empty and absent are the same.
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func kindField(k string) string {
	switch k {
	case store.KindPost:
		return "post_pending_id"
	case store.KindVoid:
		return "void_pending_id"
	default:
		return "pending"
	}
}
