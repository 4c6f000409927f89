package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

type createAccountInput struct {
	Key            string          `json:"key"`
	Asset          string          `json:"asset"`
	Name           string          `json:"name"`
	Normal         string          `json:"normal"`
	OverdraftLimit amountText      `json:"overdraft_limit"`
	Unlimited      bool            `json:"unlimited"`
	Metadata       json.RawMessage `json:"metadata"`
}

// createAccount opens an account (POST /coffer/v1/accounts). With an
// idempotency key, a retry answers 200 with the same account.
func (h *handler) createAccount(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	var in createAccountInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	ikey, err := idempotencyKey(r, in.Key, false)
	if err != nil {
		return err
	}
	as, err := h.scale(r.Context(), in.Asset, "asset")
	if err != nil {
		return err
	}
	limit, aerr := parseLimit("overdraft_limit", in.OverdraftLimit, as)
	if aerr != nil {
		return aerr
	}
	normal := store.Side(in.Normal)
	switch normal {
	case "":
		normal = store.Credit
	case store.Credit, store.Debit:
	default:
		return invalidField("normal", `normal must be "credit" (the default: wallets, liabilities) or "debit" (assets, expenses)`)
	}
	if in.Unlimited && limit != 0 {
		return invalidField("overdraft_limit", "an unlimited account takes no overdraft_limit")
	}
	if len(in.Name) > ledger.MaxNameLen {
		return invalidField("name", fmt.Sprintf("name must be at most %d bytes", ledger.MaxNameLen))
	}
	a, replayed, err := h.engine.CreateAccount(r.Context(), key.MerchantID, ledger.AccountRequest{
		Key:            ikey,
		Asset:          as.Code,
		Name:           in.Name,
		Normal:         normal,
		OverdraftLimit: limit,
		Unlimited:      in.Unlimited,
		Metadata:       in.Metadata,
	})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		w.Header().Set("Idempotency-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, toAccount(a, as.Scale))
	return nil
}

// account reads one of the merchant's accounts; another merchant's is not
// found.
func (h *handler) account(r *http.Request, merchantID int64) (store.Account, error) {
	id, ok := pathID(r)
	if !ok {
		return store.Account{}, notFound("account_not_found", "account not found")
	}
	a, err := h.st.Account(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.MerchantID != merchantID {
		return store.Account{}, notFound("account_not_found", fmt.Sprintf("account %d not found", id))
	}
	return a, err
}

// getAccount answers GET /coffer/v1/accounts/{id}.
func (h *handler) getAccount(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	a, err := h.account(r, key.MerchantID)
	if err != nil {
		return err
	}
	as, err := h.scale(r.Context(), a.Asset, "asset")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAccount(a, as.Scale))
	return nil
}

// listAccounts answers GET /coffer/v1/accounts?asset=&cursor=&limit=.
func (h *handler) listAccounts(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	asset := r.URL.Query().Get("asset")
	if asset != "" && !money.ValidAssetCode(asset) {
		return invalidField("asset", fmt.Sprintf("asset %q is not an asset code", asset))
	}
	as, err := h.st.Accounts(r.Context(), store.AccountFilter{MerchantID: key.MerchantID, Asset: asset, AfterID: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	out := listJSON[accountJSON]{Data: make([]accountJSON, 0, min(len(as), limit))}
	scales := map[string]int{}
	for i, a := range as {
		if i == limit {
			out.NextCursor = encodeCursor(as[i-1].ID)
			break
		}
		sc, ok := scales[a.Asset]
		if !ok {
			s, err := h.scale(r.Context(), a.Asset, "asset")
			if err != nil {
				return err
			}
			sc, scales[a.Asset] = s.Scale, s.Scale
		}
		out.Data = append(out.Data, toAccount(a, sc))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// accountTransfers answers GET /coffer/v1/accounts/{id}/transfers: the
// account's statement, oldest first.
func (h *handler) accountTransfers(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	a, err := h.account(r, key.MerchantID)
	if err != nil {
		return err
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	as, err := h.scale(r.Context(), a.Asset, "asset")
	if err != nil {
		return err
	}
	ts, err := h.st.Transfers(r.Context(), store.TransferFilter{MerchantID: key.MerchantID, AccountID: a.ID, AfterID: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	out := listJSON[transferJSON]{Data: make([]transferJSON, 0, min(len(ts), limit))}
	for i, t := range ts {
		if i == limit {
			out.NextCursor = encodeCursor(ts[i-1].ID)
			break
		}
		out.Data = append(out.Data, toTransfer(t, as.Scale))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
