package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Wallets and points of the acting merchant (see acting in merchants.go).

type walletJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	CustomerID int64  `json:"customer_id"`
	Asset      string `json:"asset"`
	Scale      int    `json:"scale"`
	Status     string `json:"status"`
	AccountID  int64  `json:"account_id"`
	Balance    string `json:"balance"`
	Pending    string `json:"pending"`
	Available  string `json:"available"`
	CreatedAt  string `json:"created_at"`
}

// walletJSON reads a wallet's balance and encodes it.
func (h *handler) walletJSON(r *http.Request, w store.Wallet) (walletJSON, error) {
	b, err := h.wallets.WalletBalance(r.Context(), w)
	if err != nil {
		return walletJSON{}, err
	}
	return walletJSON{
		ID: w.ID, Name: w.Name, CustomerID: w.CustomerID, Asset: w.Asset, Scale: b.Scale, Status: w.Status, AccountID: w.AccountID,
		Balance: money.Format(b.Posted, b.Scale), Pending: money.Format(b.Pending, b.Scale), Available: money.Format(b.Available, b.Scale),
		CreatedAt: timeJSON(w.CreatedAt),
	}, nil
}

// pathWallet reads the {id} of the path: a wallet id or a wallet name.
func (h *handler) pathWallet(r *http.Request, merchantID int64) (store.Wallet, error) {
	return h.wallets.WalletByRef(r.Context(), merchantID, r.PathValue("id"))
}

type createWalletInput struct {
	CustomerID int64  `json:"customer_id"`
	Asset      string `json:"asset"` // "" or "points": the merchant's points
}

// createWallet answers POST /coffer/v1/wallets: 201 with a new wallet, 200
// with the customer's existing wallet of that asset.
func (h *handler) createWallet(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	var in createWalletInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.CustomerID <= 0 {
		return invalidField("customer_id", "customer_id is required: the customer's id")
	}
	if in.Asset == "points" {
		in.Asset = ""
	}
	wl, created, err := h.wallets.CreateWallet(r.Context(), mid, in.CustomerID, in.Asset)
	if err != nil {
		return err
	}
	out, err := h.walletJSON(r, wl)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
	return nil
}

// getWallet answers GET /coffer/v1/wallets/{id} (id or name).
func (h *handler) getWallet(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	wl, err := h.pathWallet(r, mid)
	if err != nil {
		return err
	}
	out, err := h.walletJSON(r, wl)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listWallets answers GET /coffer/v1/wallets?customer_id=&asset=.
func (h *handler) listWallets(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.WalletFilter{Asset: q.Get("asset"), AfterID: after, Limit: limit + 1}
	if f.Asset == "points" {
		f.Asset = wallet.PointsCode(mid)
	}
	if s := q.Get("customer_id"); s != "" {
		if f.CustomerID, err = strconv.ParseInt(s, 10, 64); err != nil || f.CustomerID <= 0 {
			return invalidField("customer_id", "customer_id must be a customer id")
		}
	}
	ws, err := h.wallets.Wallets(r.Context(), mid, f)
	if err != nil {
		return err
	}
	out, err := pageOf(ws, limit, func(wl store.Wallet) int64 { return wl.ID },
		func(wl store.Wallet) (walletJSON, error) { return h.walletJSON(r, wl) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type walletStatusInput struct {
	Status string `json:"status"`
}

// setWalletStatus answers POST /coffer/v1/wallets/{id}/status.
func (h *handler) setWalletStatus(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	var in walletStatusInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.Status != store.WalletActive && in.Status != store.WalletInactive {
		return invalidField("status", `status must be "active" or "inactive"`)
	}
	wl, err := h.pathWallet(r, mid)
	if err != nil {
		return err
	}
	if wl, err = h.wallets.SetActive(r.Context(), mid, wl.ID, in.Status == store.WalletActive); err != nil {
		return err
	}
	out, err := h.walletJSON(r, wl)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type movementInput struct {
	Key    string     `json:"key"`
	Amount amountText `json:"amount"`
}

type movementJSON struct {
	Wallet   walletJSON   `json:"wallet"`
	Transfer transferJSON `json:"transfer"`
}

// chargeWallet answers POST /coffer/v1/wallets/{id}/charge: a positive
// amount creates points (or money) in the wallet, a negative one destroys
// them.
func (h *handler) chargeWallet(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	return h.movement(w, r, key, true)
}

// withdrawWallet answers POST /coffer/v1/wallets/{id}/withdraw: the amount
// goes to the merchant's revenue account.
func (h *handler) withdrawWallet(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	return h.movement(w, r, key, false)
}

func (h *handler) movement(w http.ResponseWriter, r *http.Request, key store.APIKey, charge bool) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	var in movementInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	ikey, err := idempotencyKey(r, in.Key, true)
	if err != nil {
		return err
	}
	wl, err := h.pathWallet(r, mid)
	if err != nil {
		return err
	}
	as, err := h.scale(r.Context(), wl.Asset, "asset")
	if err != nil {
		return err
	}
	var amount int64
	var aerr *apiError
	if charge {
		amount, aerr = parseSigned("amount", in.Amount, as)
	} else {
		amount, aerr = parseAmount("amount", in.Amount, as)
	}
	if aerr != nil {
		return aerr
	}
	var rc wallet.Receipt
	if charge {
		rc, err = h.wallets.Charge(r.Context(), mid, wl.ID, amount, ikey)
	} else {
		rc, err = h.wallets.Withdraw(r.Context(), mid, wl.ID, amount, ikey)
	}
	if rc.Replayed {
		w.Header().Set("Idempotency-Replayed", "true")
	}
	if err != nil {
		return err
	}
	wj, err := h.walletJSON(r, rc.Wallet)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if rc.Replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, movementJSON{Wallet: wj, Transfer: toTransfer(rc.Transfer, as.Scale)})
	return nil
}

// parseSigned reads a non-zero amount that may be negative ("-5").
func parseSigned(field string, s amountText, a assetScale) (int64, *apiError) {
	if s == "" {
		return parseAmount(field, s, a)
	}
	v, err := money.Parse(string(s), a.Scale)
	if err == nil && v == 0 {
		return 0, &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_amount", Field: field,
			Message: field + " must not be zero: positive to create, negative to destroy"}
	}
	if err != nil {
		return 0, amountError(field, s, a, err)
	}
	return v, nil
}

type pointsJSON struct {
	Asset   string `json:"asset"`
	Scale   int    `json:"scale"`
	Decimal bool   `json:"decimal"`
}

func toPoints(a store.Asset) pointsJSON {
	return pointsJSON{Asset: a.Code, Scale: a.Scale, Decimal: a.Scale > 0}
}

// getPoints answers GET /coffer/v1/points: the merchant's points asset
// (defined, whole points, on first use).
func (h *handler) getPoints(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	a, err := h.wallets.Points(r.Context(), mid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPoints(a))
	return nil
}

type definePointsInput struct {
	Decimal *bool `json:"decimal"`
}

// definePoints answers POST /coffer/v1/points {"decimal":true|false}: the
// points' scale, fixed once defined.
func (h *handler) definePoints(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	var in definePointsInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.Decimal == nil {
		return invalidField("decimal", "decimal is required: true for points with 2 decimals, false for whole points")
	}
	a, err := h.wallets.DefinePoints(r.Context(), mid, *in.Decimal)
	var le *ledger.Error
	if errors.As(err, &le) && le.Code == "asset_conflict" {
		return &apiError{Status: http.StatusConflict, Code: "asset_conflict", Field: "decimal",
			Message: "the merchant's points are already defined with the other scale; it never changes"}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPoints(a))
	return nil
}
