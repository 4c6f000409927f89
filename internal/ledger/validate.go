package ledger

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// ValidKey reports whether k can be an idempotency key: 1 to MaxKeyLen bytes
// of printable UTF-8 without control characters.
func ValidKey(k string) bool {
	if k == "" || len(k) > MaxKeyLen || !utf8.ValidString(k) {
		return false
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// validate checks a transfer request on its own, before it reaches the
// engine, and canonicalises its metadata.
func validate(r *TransferRequest) *Error {
	if !ValidKey(r.Key) {
		return invalid("key (the idempotency key) is required: 1-%d printable characters", MaxKeyLen)
	}
	if r.PostPendingID < 0 || r.VoidPendingID < 0 || r.DebitAccountID < 0 || r.CreditAccountID < 0 {
		return invalid("ids must be positive")
	}
	if r.Asset != "" && !money.ValidAssetCode(r.Asset) {
		return invalid("asset %q is not a valid asset code", r.Asset)
	}
	if r.Timeout < 0 {
		return invalid("timeout must not be negative")
	}
	switch {
	case r.PostPendingID != 0 && r.VoidPendingID != 0:
		return invalid("give post_pending_id or void_pending_id, not both")
	case r.PostPendingID != 0 || r.VoidPendingID != 0:
		if r.DebitAccountID != 0 || r.CreditAccountID != 0 || r.Pending || r.Timeout != 0 {
			return invalid("posting or voiding a pending transfer takes only its id (and, to post part of it, an amount)")
		}
		if r.VoidPendingID != 0 && r.Amount != 0 {
			return invalid("a void takes no amount")
		}
		if r.Amount < 0 {
			return ErrInvalidAmount
		}
	default:
		if r.DebitAccountID == 0 || r.CreditAccountID == 0 {
			return invalid("debit_account_id and credit_account_id are required")
		}
		if r.DebitAccountID == r.CreditAccountID {
			return ErrSameAccount
		}
		if r.Amount <= 0 {
			return ErrInvalidAmount
		}
		if r.Timeout != 0 && !r.Pending {
			return invalid("timeout applies only to pending transfers")
		}
	}
	m, err := canonicalJSON(r.Metadata)
	if err != nil {
		return err
	}
	r.Metadata = m
	return nil
}

func validateAccount(r *AccountRequest) *Error {
	if r.Key != "" && !ValidKey(r.Key) {
		return invalid("key must be 1-%d printable characters", MaxKeyLen)
	}
	if !money.ValidAssetCode(r.Asset) {
		return invalid("asset is required: a code such as USD or PTS")
	}
	if r.Normal != store.Debit && r.Normal != store.Credit {
		return invalid("normal must be \"debit\" or \"credit\"")
	}
	if r.OverdraftLimit < 0 {
		return invalid("overdraft_limit must not be negative")
	}
	if r.Unlimited && r.OverdraftLimit != 0 {
		return invalid("an unlimited account takes no overdraft_limit")
	}
	if len(r.Name) > MaxNameLen || !utf8.ValidString(r.Name) {
		return invalid("name must be valid UTF-8 of at most %d bytes", MaxNameLen)
	}
	m, err := canonicalJSON(r.Metadata)
	if err != nil {
		return err
	}
	r.Metadata = m
	return nil
}

// canonicalJSON checks that raw is empty or a JSON object of bounded size and
// returns it compacted.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if len(raw) > MaxMetadataLen {
		return nil, invalid("metadata must be at most %d bytes", MaxMetadataLen)
	}
	if raw[0] != '{' || !json.Valid(raw) {
		return nil, invalid("metadata must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, invalid("metadata must be a JSON object")
	}
	return buf.Bytes(), nil
}
