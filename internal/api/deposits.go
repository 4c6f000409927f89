package api

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// depositRoutes serve deposits (Paykassma's flow): payee details, incoming
// external transactions (one by one or a CSV statement) and the review of
// payers' claims.
func depositRoutes() []route {
	return []route{
		{Method: "POST", Path: "/coffer/v1/deposits/payees", serve: (*handler).createPayee},
		{Method: "GET", Path: "/coffer/v1/deposits/payees", serve: (*handler).listPayees},
		{Method: "POST", Path: "/coffer/v1/deposits/incoming", serve: (*handler).recordIncoming},
		{Method: "POST", Path: "/coffer/v1/deposits/incoming/import", serve: (*handler).importIncoming},
		{Method: "GET", Path: "/coffer/v1/deposits/claims", serve: (*handler).listClaims},
		{Method: "GET", Path: "/coffer/v1/deposits/claims/{id}", serve: (*handler).getClaim},
		{Method: "POST", Path: "/coffer/v1/deposits/claims/{id}/match", serve: (*handler).matchClaim},
		{Method: "POST", Path: "/coffer/v1/deposits/claims/{id}/reject", serve: (*handler).rejectClaim},
	}
}

var errDepositsOff = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "this server does not serve deposits"}

type payeeJSON struct {
	ID         int64   `json:"id"`
	WalletType string  `json:"wallet_type"`
	Identifier string  `json:"identifier"`
	Currency   string  `json:"currency"`
	MinAmount  string  `json:"min_amount,omitempty"`
	MaxAmount  string  `json:"max_amount,omitempty"`
	Active     bool    `json:"active"`
	LastUsedAt *string `json:"last_used_at,omitempty"`
	CreatedAt  string  `json:"created_at"`
}

func toPayee(p store.Payee) payeeJSON {
	s, _ := money.CurrencyScale(p.Currency)
	out := payeeJSON{ID: p.ID, WalletType: p.WalletType, Identifier: p.Identifier, Currency: p.Currency, Active: p.Active,
		CreatedAt: timeJSON(p.CreatedAt), LastUsedAt: optTime(p.LastUsedAt)}
	if p.MinAmount != 0 {
		out.MinAmount = money.Format(p.MinAmount, s)
	}
	if p.MaxAmount != 0 {
		out.MaxAmount = money.Format(p.MaxAmount, s)
	}
	return out
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timeJSON(*t)
	return &s
}

type incomingJSON struct {
	ID         int64  `json:"id"`
	WalletType string `json:"wallet_type"`
	Key1       string `json:"key1"`
	Amount     string `json:"amount"`
	Currency   string `json:"currency"`
	Payee      string `json:"payee,omitempty"`
	OccurredAt string `json:"occurred_at"`
	Final      bool   `json:"final"`
	ClaimID    int64  `json:"claim_id,omitempty"`
	Source     string `json:"source,omitempty"`
	CreatedAt  string `json:"created_at"`
}

func toIncoming(in store.Incoming) incomingJSON {
	s, _ := money.CurrencyScale(in.Currency)
	return incomingJSON{ID: in.ID, WalletType: in.WalletType, Key1: in.Key1, Amount: money.Format(in.Amount, s), Currency: in.Currency,
		Payee: in.Payee, OccurredAt: timeJSON(in.OccurredAt), Final: in.Final, ClaimID: in.ClaimID, Source: in.Source, CreatedAt: timeJSON(in.CreatedAt)}
}

type claimJSON struct {
	ID         int64   `json:"id"`
	CustomID   string  `json:"custom_transaction_id"`
	CustomerID int64   `json:"customer_id"`
	Label      string  `json:"label"`
	WalletType string  `json:"wallet_type"`
	Key1       string  `json:"key1"`
	Currency   string  `json:"currency"`
	Amount     string  `json:"amount"`
	Status     string  `json:"status"`
	IncomingID int64   `json:"incoming_id,omitempty"`
	WalletID   int64   `json:"wallet_id,omitempty"`
	TransferID int64   `json:"transfer_id,omitempty"`
	CreatedAt  string  `json:"created_at"`
	DecidedAt  *string `json:"decided_at,omitempty"`
	DecidedBy  string  `json:"decided_by,omitempty"`
}

func toClaim(c store.DepositClaim) claimJSON {
	s, _ := money.CurrencyScale(c.Currency)
	return claimJSON{ID: c.ID, CustomID: c.CustomID, CustomerID: c.CustomerID, Label: c.Label, WalletType: c.WalletType, Key1: c.Key1,
		Currency: c.Currency, Amount: money.Format(c.Amount, s), Status: c.Status, IncomingID: c.IncomingID, WalletID: c.WalletID,
		TransferID: c.TransferID, CreatedAt: timeJSON(c.CreatedAt), DecidedAt: optTime(c.DecidedAt), DecidedBy: c.DecidedBy}
}

func (h *handler) depositMerchant(r *http.Request, key store.APIKey) (int64, error) {
	if h.deposits == nil {
		return 0, errDepositsOff
	}
	return h.acting(r, key)
}

type createPayeeInput struct {
	WalletType string `json:"wallet_type"`
	Identifier string `json:"identifier"`
	Currency   string `json:"currency"`
	MinAmount  string `json:"min_amount"`
	MaxAmount  string `json:"max_amount"`
}

// createPayee answers POST /coffer/v1/deposits/payees.
func (h *handler) createPayee(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, err := h.depositMerchant(r, key)
	if err != nil {
		return err
	}
	var in createPayeeInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	p, err := h.deposits.AddPayee(r.Context(), deposit.PayeeParams{MerchantID: m, WalletType: in.WalletType, Identifier: in.Identifier,
		Currency: strings.ToUpper(in.Currency), MinAmount: in.MinAmount, MaxAmount: in.MaxAmount})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toPayee(p))
	return nil
}

// listPayees answers GET /coffer/v1/deposits/payees?wallet_type=….
func (h *handler) listPayees(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, err := h.depositMerchant(r, key)
	if err != nil {
		return err
	}
	ps, err := h.deposits.Payees(r.Context(), m, r.URL.Query().Get("wallet_type"))
	if err != nil {
		return err
	}
	out := listJSON[payeeJSON]{Data: []payeeJSON{}}
	for _, p := range ps {
		out.Data = append(out.Data, toPayee(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type incomingInput struct {
	WalletType string `json:"wallet_type"`
	Key1       string `json:"key1"`
	Amount     string `json:"amount"`
	Currency   string `json:"currency"`
	Payee      string `json:"payee"`
	OccurredAt string `json:"occurred_at"`
	Final      *bool  `json:"final"`
}

type recordedJSON struct {
	Incoming incomingJSON `json:"incoming"`
	Claim    *claimJSON   `json:"claim,omitempty"`
}

// recordIncoming answers POST /coffer/v1/deposits/incoming: an external
// transaction that arrived (idempotent by wallet_type and key1; final
// defaults to true).
func (h *handler) recordIncoming(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, err := h.depositMerchant(r, key)
	if err != nil {
		return err
	}
	var in incomingInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	p := deposit.IncomingParams{MerchantID: m, WalletType: in.WalletType, Key1: in.Key1, Amount: in.Amount,
		Currency: strings.ToUpper(in.Currency), Payee: in.Payee, Final: in.Final == nil || *in.Final, Source: "api"}
	if in.OccurredAt != "" {
		if p.OccurredAt, err = time.Parse(time.RFC3339Nano, in.OccurredAt); err != nil {
			return invalidField("occurred_at", "occurred_at must be an RFC 3339 time")
		}
	}
	res, err := h.deposits.RecordIncoming(r.Context(), p)
	if err != nil {
		return err
	}
	out := recordedJSON{Incoming: toIncoming(res.Incoming)}
	if res.Claim != nil {
		c := toClaim(*res.Claim)
		out.Claim = &c
	}
	status := http.StatusCreated
	if res.Replayed {
		w.Header().Set("Idempotency-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, out)
	return nil
}

type importJSON struct {
	Rows     int `json:"rows"`
	Recorded int `json:"recorded"`
	Replayed int `json:"replayed"`
	Credited int `json:"credited"`
	Pending  int `json:"pending"`
}

// importIncoming answers POST /coffer/v1/deposits/incoming/import?wallet_type=…&currency=…
// with a CSV statement as the body (see deposit.ParseCSV).
func (h *handler) importIncoming(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, err := h.depositMerchant(r, key)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	body := http.MaxBytesReader(w, r.Body, 16<<20)
	rep, err := h.deposits.ImportCSV(r.Context(), io.Reader(body), deposit.ImportParams{MerchantID: m,
		WalletType: q.Get("wallet_type"), Currency: strings.ToUpper(q.Get("currency")), Source: "csv"})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, importJSON(rep))
	return nil
}

// listClaims answers GET /coffer/v1/deposits/claims?status=possible (the
// review queue), oldest first.
func (h *handler) listClaims(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, err := h.depositMerchant(r, key)
	if err != nil {
		return err
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	cs, err := h.deposits.Claims(r.Context(), store.ClaimFilter{MerchantID: m, Status: r.URL.Query().Get("status"), AfterID: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	out, _ := pageOf(cs, limit, func(c store.DepositClaim) int64 { return c.ID },
		func(c store.DepositClaim) (claimJSON, error) { return toClaim(c), nil })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) claimID(r *http.Request, key store.APIKey) (int64, int64, error) {
	m, err := h.depositMerchant(r, key)
	if err != nil {
		return 0, 0, err
	}
	id, ok := pathID(r)
	if !ok {
		return 0, 0, notFound("claim_not_found", "deposit claim not found")
	}
	return m, id, nil
}

func (h *handler) getClaim(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, id, err := h.claimID(r, key)
	if err != nil {
		return err
	}
	c, err := h.deposits.Claim(r.Context(), m, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClaim(c))
	return nil
}

// matchClaim credits a possible or pending claim, with {"key1":…} to match
// it with another incoming transaction than the one it names.
func (h *handler) matchClaim(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, id, err := h.claimID(r, key)
	if err != nil {
		return err
	}
	var in struct {
		Key1 string `json:"key1"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, maxBody, &in); err != nil {
			return err
		}
	}
	c, err := h.deposits.Match(r.Context(), m, id, in.Key1, decider(key))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClaim(c))
	return nil
}

func (h *handler) rejectClaim(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, id, err := h.claimID(r, key)
	if err != nil {
		return err
	}
	c, err := h.deposits.Reject(r.Context(), m, id, decider(key))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClaim(c))
	return nil
}
