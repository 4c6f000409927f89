package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
)

// maxTimeoutSeconds bounds a pending transfer's timeout (ten years).
const maxTimeoutSeconds = 10 * 366 * 24 * 3600

// transferInput is one new transfer, alone or in a batch.
type transferInput struct {
	Key             string          `json:"key"`
	DebitAccountID  int64           `json:"debit_account_id"`
	CreditAccountID int64           `json:"credit_account_id"`
	Asset           string          `json:"asset"`
	Amount          amountText      `json:"amount"`
	Pending         bool            `json:"pending"`
	TimeoutSeconds  int64           `json:"timeout_seconds"`
	Linked          bool            `json:"linked"`
	Metadata        json.RawMessage `json:"metadata"`
}

// scales caches the assets one request uses (usually one).
type scales struct {
	code string // "" until the first asset is known
	as   assetScale
	more map[string]assetScale
}

// scaleOf is h.scale(ctx, code, "asset") through the cache sc.
func (h *handler) scaleOf(ctx context.Context, sc *scales, code string) (assetScale, error) {
	if code == sc.code && code != "" {
		return sc.as, nil
	}
	if as, ok := sc.more[code]; ok {
		return as, nil
	}
	as, err := h.scale(ctx, code, "asset")
	if err != nil {
		return assetScale{}, err
	}
	switch {
	case sc.code == "":
		sc.code, sc.as = code, as
	case sc.more == nil:
		sc.more = map[string]assetScale{code: as}
	default:
		sc.more[code] = as
	}
	return as, nil
}

// request builds the ledger request of a new transfer, parsing the amount
// at the asset's scale. sc caches assets across a batch.
func (h *handler) request(ctx context.Context, key string, in *transferInput, sc *scales) (ledger.TransferRequest, error) {
	as, err := h.scaleOf(ctx, sc, in.Asset)
	if err != nil {
		return ledger.TransferRequest{}, err
	}
	amount, aerr := parseAmount("amount", in.Amount, as)
	if aerr != nil {
		return ledger.TransferRequest{}, aerr
	}
	switch {
	case in.TimeoutSeconds < 0 || in.TimeoutSeconds > maxTimeoutSeconds:
		return ledger.TransferRequest{}, invalidField("timeout_seconds", fmt.Sprintf("timeout_seconds must be between 0 and %d", maxTimeoutSeconds))
	case in.TimeoutSeconds != 0 && !in.Pending:
		return ledger.TransferRequest{}, invalidField("timeout_seconds", "timeout_seconds applies only to pending transfers")
	case in.DebitAccountID <= 0:
		return ledger.TransferRequest{}, invalidField("debit_account_id", "debit_account_id is required: a positive account id")
	case in.CreditAccountID <= 0:
		return ledger.TransferRequest{}, invalidField("credit_account_id", "credit_account_id is required: a positive account id")
	}
	return ledger.TransferRequest{
		Key:             key,
		DebitAccountID:  in.DebitAccountID,
		CreditAccountID: in.CreditAccountID,
		Asset:           as.Code,
		Amount:          amount,
		Pending:         in.Pending,
		Timeout:         time.Duration(in.TimeoutSeconds) * time.Second,
		Linked:          in.Linked,
		Metadata:        in.Metadata,
	}, nil
}

// createTransfer answers POST /coffer/v1/transfers.
func (h *handler) createTransfer(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	var in transferInput
	err := decodeFast(w, r, maxBody, &in,
		func(d *decoder) bool { return d.transferInput(&in) },
		func() { in = transferInput{} })
	if err != nil {
		return err
	}
	ikey, err := idempotencyKey(r, in.Key, true)
	if err != nil {
		return err
	}
	if in.Linked {
		return invalidField("linked", "linked is only allowed in a batch (POST /coffer/v1/transfers/batch)")
	}
	var sc scales
	req, err := h.request(r.Context(), ikey, &in, &sc)
	if err != nil {
		return err
	}
	return h.transferOne(w, r, key.MerchantID, req, &sc)
}

// transferOne applies one request and answers with its result: 201 for a
// new transfer; a replay answers as the first time did (200 instead of 201
// for a success) with Idempotency-Replayed: true.
// sc caches the scales of assets already looked up.
func (h *handler) transferOne(w http.ResponseWriter, r *http.Request, merchantID int64, req ledger.TransferRequest, sc *scales) error {
	res, err := h.engine.Transfer(r.Context(), merchantID, []ledger.TransferRequest{req})
	if err != nil {
		return err
	}
	out := res[0]
	if out.Replayed {
		w.Header().Set("Idempotency-Replayed", "true")
	}
	if out.Err != nil {
		return out.Err
	}
	as, err := h.scaleOf(r.Context(), sc, out.Transfer.Asset)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if out.Replayed {
		status = http.StatusOK
	}
	buf := getBuffer(512)
	defer putBuffer(buf)
	var ok bool
	if buf.b, ok = appendTransfer(buf.b, &out.Transfer, as.Scale); !ok {
		writeEncodingFailed(w)
		return nil
	}
	writeBody(w, status, append(buf.b, '\n'))
	return nil
}

type batchInput struct {
	Transfers []transferInput `json:"transfers"`
	Atomic    bool            `json:"atomic"`
}

// errLinkedFailed is the answer of a batch item whose chain failed before
// reaching the ledger.
func errLinkedFailed() *wireError {
	e := ledger.ErrLinkedFailed
	return &wireError{Code: e.Code, Message: e.Message}
}

// batchItem is the outcome of one transfer of a batch: err, or the
// transfer of the engine's result number res-1 (at scale).
type batchItem struct {
	err      *wireError
	res      int
	scale    int
	replayed bool
}

// createBatch answers POST /coffer/v1/transfers/batch. Each item has its
// own key and its own result; atomic links them all, and an item's linked
// flag joins it to the next one. A chain commits or fails as a whole.
//
// With Prefer: return=minimal, a result holds the transfer's id instead of
// the whole transfer.
func (h *handler) createBatch(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	var in batchInput
	err := decodeFast(w, r, maxBatchBody, &in,
		func(d *decoder) bool { return d.batchInput(&in) },
		func() { in = batchInput{} })
	if err != nil {
		return err
	}
	n := len(in.Transfers)
	switch {
	case r.Header.Get("Idempotency-Key") != "":
		return invalidField("Idempotency-Key", "a batch takes no Idempotency-Key header: give each transfer its own key")
	case n == 0:
		return invalidField("transfers", "transfers must hold at least one transfer")
	case n > ledger.MaxBatch:
		return invalidField("transfers", fmt.Sprintf("a batch holds at most %d transfers", ledger.MaxBatch))
	case !in.Atomic && in.Transfers[n-1].Linked:
		return invalidField(fmt.Sprintf("transfers[%d].linked", n-1), "the last transfer must not be linked: the chain would be open")
	}
	minimal := prefersMinimal(r)
	results := make([]batchItem, n)
	reqs := make([]ledger.TransferRequest, n)
	var sc scales
	for i := range in.Transfers {
		it := &in.Transfers[i]
		if in.Atomic {
			it.Linked = i < n-1
		}
		if it.Key == "" {
			results[i].err = &wireError{Code: "invalid_request", Field: "key", Message: "key (the idempotency key) is required on every transfer of a batch"}
			continue
		}
		req, err := h.request(r.Context(), it.Key, it, &sc)
		if err != nil {
			ae := classify(err)
			if ae.Status >= 500 {
				return err // not about this item: the database or the server
			}
			results[i].err = &wireError{Code: ae.Code, Message: ae.Message, Field: ae.Field}
			continue
		}
		reqs[i] = req
	}
	// A chain with an item that failed here fails whole, as in the ledger.
	// submit[k] is item index[k]; when no item failed, that is every item
	// (index nil: item k).
	submit, index := reqs, []int(nil)
	failed := false
	for i := range results {
		failed = failed || results[i].err != nil
	}
	if failed {
		submit, index = make([]ledger.TransferRequest, 0, n), make([]int, 0, n)
	}
	for start := 0; failed && start < n; {
		end := start
		for end < n-1 && in.Transfers[end].Linked {
			end++
		}
		bad := false
		for i := start; i <= end; i++ {
			bad = bad || results[i].err != nil
		}
		for i := start; i <= end; i++ {
			switch {
			case !bad:
				submit = append(submit, reqs[i])
				index = append(index, i)
			case results[i].err == nil:
				results[i].err = errLinkedFailed()
			}
		}
		start = end + 1
	}
	var res []ledger.Result
	if len(submit) > 0 {
		res, err = h.engine.Transfer(r.Context(), key.MerchantID, submit)
		if err != nil {
			return err
		}
		for k := range submit {
			i := k
			if index != nil {
				i = index[k]
			}
			out := &results[i]
			out.replayed = res[k].Replayed
			if e := res[k].Err; e != nil {
				ae := fromLedger(e)
				out.err = &wireError{Code: ae.Code, Message: ae.Message, Field: ae.Field}
				continue
			}
			out.res = k + 1
			if !minimal {
				as, err := h.scaleOf(r.Context(), &sc, res[k].Transfer.Asset)
				if err != nil {
					return err
				}
				out.scale = as.Scale
			}
		}
	}
	per := 260 // about the size of one full result
	if minimal {
		per = 24
	}
	buf := getBuffer(16 + n*per)
	defer putBuffer(buf)
	b := append(buf.b, `{"results":[`...)
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendBatchItem(b, &results[i], res, minimal); !ok {
			writeEncodingFailed(w)
			return nil
		}
	}
	buf.b = append(b, "]}\n"...)
	if minimal {
		w.Header()["Preference-Applied"] = hdrMinimal
	}
	writeBody(w, http.StatusOK, buf.b)
	return nil
}

// appendBatchItem appends one result of a batch: what json.Marshal writes
// for its batchItemJSON (failing where it fails), or with minimal the id
// alone instead of the transfer.
func appendBatchItem(b []byte, it *batchItem, res []ledger.Result, minimal bool) ([]byte, bool) {
	b = append(b, '{')
	switch {
	case it.err != nil:
		b = append(b, `"error":`...)
		b = appendWireError(b, it.err)
	case it.res > 0 && minimal:
		b = append(b, `"id":`...)
		b = strconv.AppendInt(b, res[it.res-1].Transfer.ID, 10)
	case it.res > 0:
		b = append(b, `"transfer":`...)
		var ok bool
		if b, ok = appendTransfer(b, &res[it.res-1].Transfer, it.scale); !ok {
			return b, false
		}
	}
	if it.replayed {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = append(b, `"replayed":true`...)
	}
	return append(b, '}'), true
}

var hdrMinimal = []string{"return=minimal"}

// prefersMinimal reports whether the request asks for a minimal answer:
// Prefer: return=minimal (RFC 7240; names and values are case-insensitive,
// and preferences may come in several headers or comma-separated).
func prefersMinimal(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for v != "" {
			var p string
			p, v, _ = strings.Cut(v, ",")
			p, _, _ = strings.Cut(p, ";") // parameters do not matter here
			name, val, _ := strings.Cut(p, "=")
			val = strings.TrimSpace(val)
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if strings.EqualFold(strings.TrimSpace(name), "return") && strings.EqualFold(strings.TrimSpace(val), "minimal") {
				return true
			}
		}
	}
	return false
}

// transfer reads one of the merchant's transfers; another merchant's is
// not found.
func (h *handler) transfer(ctx context.Context, id, merchantID int64, code string) (store.Transfer, error) {
	t, err := h.st.Transfer(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && t.MerchantID != merchantID {
		what := "transfer"
		if code == "pending_not_found" {
			what = "pending transfer"
		}
		return store.Transfer{}, notFound(code, fmt.Sprintf("%s %d not found", what, id))
	}
	return t, err
}

// getTransfer answers GET /coffer/v1/transfers/{id}.
func (h *handler) getTransfer(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	id, ok := pathID(r)
	if !ok {
		return notFound("transfer_not_found", "transfer not found")
	}
	t, err := h.transfer(r.Context(), id, key.MerchantID, "transfer_not_found")
	if err != nil {
		return err
	}
	as, err := h.scale(r.Context(), t.Asset, "asset")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTransfer(t, as.Scale))
	return nil
}

// lookupTransfer answers GET /coffer/v1/transfers?key=K with the definite
// outcome of an idempotency key: 200 {"status":"succeeded","transfer":…},
// 200 {"status":"failed","error":…}, or 404 key_not_found when the key was
// never processed (so a retry with it is safe and will be applied).
func (h *handler) lookupTransfer(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	q := r.URL.Query()
	k := q.Get("key")
	if k == "" {
		return invalidField("key", "the key query parameter is required: GET /coffer/v1/transfers?key=<idempotency key>")
	}
	if !ledger.ValidKey(k) {
		return invalidField("key", fmt.Sprintf("key must be 1-%d printable characters", ledger.MaxKeyLen))
	}
	rec, err := h.st.KeyRecord(r.Context(), store.MerchantKey{MerchantID: key.MerchantID, Key: k})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("key_not_found", fmt.Sprintf("no request with key %q was processed", k))
	}
	if err != nil {
		return err
	}
	out := outcomeJSON{Key: k}
	if rec.TransferID == 0 {
		out.Status = "failed"
		out.Error = &wireError{Code: rec.Code, Message: rec.Message}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	t, err := h.st.Transfer(r.Context(), rec.TransferID)
	if err != nil {
		return fmt.Errorf("key %q names transfer %d: %w", k, rec.TransferID, err)
	}
	as, err := h.scale(r.Context(), t.Asset, "asset")
	if err != nil {
		return err
	}
	tj := toTransfer(t, as.Scale)
	out.Status, out.Transfer = "succeeded", &tj
	writeJSON(w, http.StatusOK, out)
	return nil
}

type postInput struct {
	Key      string          `json:"key"`
	Amount   amountText      `json:"amount"`
	Metadata json.RawMessage `json:"metadata"`
}

type voidInput struct {
	Key      string          `json:"key"`
	Metadata json.RawMessage `json:"metadata"`
}

// pending reads the pending transfer named in the path.
func (h *handler) pending(r *http.Request, merchantID int64) (store.Transfer, error) {
	id, ok := pathID(r)
	if !ok {
		return store.Transfer{}, notFound("pending_not_found", "pending transfer not found")
	}
	t, err := h.transfer(r.Context(), id, merchantID, "pending_not_found")
	if err != nil {
		return store.Transfer{}, err
	}
	if t.Kind != store.KindPending {
		return store.Transfer{}, fromLedger(&ledger.Error{Kind: ledger.KindInvalid, Code: ledger.ErrNotPending.Code,
			Message: fmt.Sprintf("transfer %d is a %s transfer, not a pending one", id, t.Kind)})
	}
	return t, nil
}

// postPending answers POST /coffer/v1/transfers/{id}/post: it moves all of
// a pending transfer's hold (or the given amount of it) to posted.
func (h *handler) postPending(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	p, err := h.pending(r, key.MerchantID)
	if err != nil {
		return err
	}
	var in postInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	ikey, err := idempotencyKey(r, in.Key, true)
	if err != nil {
		return err
	}
	var amount int64
	if in.Amount != "" {
		as, err := h.scale(r.Context(), p.Asset, "asset")
		if err != nil {
			return err
		}
		var aerr *apiError
		if amount, aerr = parseAmount("amount", in.Amount, as); aerr != nil {
			return aerr
		}
	}
	return h.transferOne(w, r, key.MerchantID, ledger.TransferRequest{Key: ikey, PostPendingID: p.ID, Amount: amount, Metadata: in.Metadata}, &scales{})
}

// voidPending answers POST /coffer/v1/transfers/{id}/void: it releases a
// pending transfer's hold.
func (h *handler) voidPending(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	p, err := h.pending(r, key.MerchantID)
	if err != nil {
		return err
	}
	var in voidInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	ikey, err := idempotencyKey(r, in.Key, true)
	if err != nil {
		return err
	}
	return h.transferOne(w, r, key.MerchantID, ledger.TransferRequest{Key: ikey, VoidPendingID: p.ID, Metadata: in.Metadata}, &scales{})
}
