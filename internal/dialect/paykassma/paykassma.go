// Package paykassma serves Paykassma's deposit API (DIALECTS.md §5,
// seeds/004): transaction/create hands out payee details for a wallet type
// and transaction/activate claims a payer's transaction number. See
// README.md for Coffer's choices where the document is silent.
package paykassma

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/dialect"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Prefix is where the API is served.
const Prefix = "/api/v1/"

// Messages of the non-fail answers, as Paykassma words them.
const (
	PendingMessage  = "The deposit status check has been started. The operation may take longer than expected. Upon completion of the verification, the funds will be credited to your account"
	PossibleMessage = "Transaction not found. Possible transaction created"
)

// Deps are what the dialect calls.
type Deps struct {
	Merchants *merchant.Service
	Deposits  *deposit.Service
	Logger    *slog.Logger
}

type handler struct{ Deps }

// NewHandler serves the API under Prefix.
func NewHandler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{d}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/transaction/create/{wallet_type}", dialect.Handler(d.Logger, "paykassma", fail, h.create))
	mux.Handle("POST /api/v1/transaction/activate", dialect.Handler(d.Logger, "paykassma", fail, h.activate))
	mux.HandleFunc("/", notFound)
	return mux
}

func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("Not found"))
}

// errNotFound answers 404 "Not found": a missing or wrong secret, or a
// closed gateway, as Paykassma does.
var errNotFound = &failure{status: http.StatusNotFound}

// fail answers an error as {"status":"fail","message":…}.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var f *failure
	if errors.As(err, &f) && f == errNotFound {
		notFound(w, r)
		return
	}
	if f == nil {
		f = failureOf(err)
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"status": "fail", "message": f.message})
}

// OnPanic answers a panic outside the handler in Paykassma's format.
func OnPanic(w http.ResponseWriter, r *http.Request) { fail(w, r, dialect.ErrInternal) }

// failureOf words a domain error.
func failureOf(err error) *failure {
	switch {
	case errors.Is(err, deposit.ErrUnknownWalletType):
		return failf("Unknown wallet type")
	case errors.Is(err, deposit.ErrUnknownCurrency):
		return failf("The currency is not available for this wallet type")
	case errors.Is(err, deposit.ErrNoPayee):
		return failf("No payment details are available for this wallet type and currency")
	case errors.Is(err, deposit.ErrAmountMismatch):
		return failf("The amount or currency does not match the transaction")
	case errors.Is(err, deposit.ErrKeyUsed):
		return failf("The transaction has already been activated")
	case errors.Is(err, deposit.ErrCustomIDUsed):
		return failf("The custom_transaction_id has already been used for another activation")
	case errors.Is(err, wallet.ErrCustomerNotFound):
		return failf("Unknown label")
	case errors.Is(err, wallet.ErrWalletInactive):
		return failf("The wallet is inactive")
	}
	var le *ledger.Error
	if errors.As(err, &le) && le.Kind != ledger.KindInternal && le.Kind != ledger.KindUnavailable {
		return failf("%s", le.Message)
	}
	return &failure{status: http.StatusInternalServerError, message: "Internal error, try again later"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// auth finds the merchant by the secret GET parameter and checks the
// gateway and the IP allow-list.
func (h *handler) auth(r *http.Request) (merchant.Gateway, error) {
	gw, err := h.Merchants.Authenticate(r.Context(), merchant.Paykassma, r.URL.Query().Get("secret"))
	if errors.Is(err, merchant.ErrUnknownKey) {
		return gw, errNotFound
	} else if err != nil {
		return gw, err
	}
	if !gw.Open {
		return gw, errNotFound
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !gw.Paykassma.Allows(addr.Unmap()) {
		return gw, &failure{status: http.StatusForbidden, message: "Access denied for this IP address"}
	}
	return gw, nil
}

// create is POST /api/v1/transaction/create/{wallet_type}: payee details
// for the payer.
func (h *handler) create(w http.ResponseWriter, r *http.Request) error {
	gw, err := h.auth(r)
	if err != nil {
		return err
	}
	req, err := parseCreate(r.Body)
	if err != nil {
		return err
	}
	p, _, err := h.Deposits.Create(r.Context(), deposit.CreateParams{MerchantID: gw.MerchantID,
		WalletType: r.PathValue("wallet_type"), Currency: req.Currency, Label: req.Label})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "params": map[string]any{"identifier": p.Identifier}})
	return nil
}

// activate is POST /api/v1/transaction/activate: the payer's claim.
func (h *handler) activate(w http.ResponseWriter, r *http.Request) error {
	gw, err := h.auth(r)
	if err != nil {
		return err
	}
	req, err := parseActivate(r.Body)
	if err != nil {
		return err
	}
	a, err := h.Deposits.Activate(r.Context(), deposit.ActivateParams{MerchantID: gw.MerchantID, WalletType: req.WalletType,
		Currency: req.Currency, Label: req.Label, Key1: req.Key1, Amount: req.Amount, CustomID: req.CustomID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, answer(a.Claim))
	return nil
}

// answer is activate's answer for a claim's state.
func answer(c store.DepositClaim) any {
	switch c.Status {
	case store.ClaimCredited:
		scale, _ := money.CurrencyScale(c.Currency)
		return struct {
			Status   string      `json:"status"`
			Deposit  bool        `json:"deposit"`
			Amount   json.Number `json:"deposit_amount"`
			Currency struct {
				Code   string `json:"code"`
				Symbol string `json:"symbol"`
			} `json:"currency"`
		}{Status: "ok", Deposit: true, Amount: json.Number(money.FormatTrim(c.Amount, scale)),
			Currency: struct {
				Code   string `json:"code"`
				Symbol string `json:"symbol"`
			}{c.Currency, c.Currency}}
	case store.ClaimPending:
		return map[string]string{"status": "pending", "message": PendingMessage}
	case store.ClaimPossible:
		return map[string]string{"status": "possible_transaction_created", "message": PossibleMessage}
	}
	return map[string]string{"status": "fail", "message": "The transaction was rejected"}
}
