package api

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/store"
)

// paymentRoutes serve payments (the MOR confirmation queue among them) and
// exchange rates.
func paymentRoutes() []route {
	return []route{
		{Method: "POST", Path: "/coffer/v1/payments", serve: (*handler).createPayment},
		{Method: "GET", Path: "/coffer/v1/payments", serve: (*handler).listPayments},
		{Method: "GET", Path: "/coffer/v1/payments/{id}", serve: (*handler).getPayment},
		{Method: "POST", Path: "/coffer/v1/payments/{id}/confirm", serve: (*handler).confirmPayment},
		{Method: "POST", Path: "/coffer/v1/payments/{id}/reject", serve: (*handler).rejectPayment},
		{Method: "GET", Path: "/coffer/v1/rates", serve: (*handler).listRates},
		{Method: "PUT", Path: "/coffer/v1/rates/{currency}", serve: (*handler).setRate},
	}
}

var errPaymentsOff = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "this server does not serve payments"}

type paymentJSON struct {
	ID               int64   `json:"id"`
	CustomerID       int64   `json:"customer_id"`
	Status           string  `json:"status"`
	Source           string  `json:"source"`
	Transaction      string  `json:"transaction,omitempty"`
	Currency         string  `json:"currency"`
	Amount           string  `json:"amount"`
	Tax              string  `json:"tax"`
	Gross            string  `json:"gross"`
	TaxRate          string  `json:"tax_rate"`
	TaxIncluded      bool    `json:"tax_included"`
	WalletID         int64   `json:"wallet_id"`
	WalletCurrency   string  `json:"wallet_currency"`
	Rate             string  `json:"rate"`
	Credited         string  `json:"credited"`
	TaxCredited      string  `json:"tax_credited"`
	CreditTransferID int64   `json:"credit_transfer_id"`
	TaxTransferID    int64   `json:"tax_transfer_id,omitempty"`
	PaymentType      string  `json:"payment_type,omitempty"`
	PayerEmail       string  `json:"payer_email,omitempty"`
	Comments         string  `json:"comments,omitempty"`
	Username         string  `json:"username,omitempty"`
	CreatedAt        string  `json:"created_at"`
	DecidedAt        *string `json:"decided_at,omitempty"`
	DecidedBy        string  `json:"decided_by,omitempty"`
}

func toPayment(p store.Payment) paymentJSON {
	s, _ := money.CurrencyScale(p.Currency)
	ws, _ := money.CurrencyScale(p.WalletCurrency)
	out := paymentJSON{
		ID: p.ID, CustomerID: p.CustomerID, Status: p.Status, Source: p.Source, Transaction: p.Transaction,
		Currency: p.Currency, Amount: money.Format(p.Amount, s), Tax: money.Format(p.Tax, s), Gross: money.Format(p.Gross, s),
		TaxRate: p.TaxRate, TaxIncluded: p.TaxIncluded, WalletID: p.WalletID, WalletCurrency: p.WalletCurrency,
		Rate: p.Rate, Credited: money.Format(p.Credited, ws), TaxCredited: money.Format(p.TaxCredited, ws),
		CreditTransferID: p.CreditTransferID, TaxTransferID: p.TaxTransferID, PaymentType: p.PaymentType,
		PayerEmail: p.PayerEmail, Comments: p.Comments, Username: p.Username, CreatedAt: timeJSON(p.CreatedAt),
		DecidedBy: p.DecidedBy,
	}
	if p.DecidedAt != nil {
		d := timeJSON(*p.DecidedAt)
		out.DecidedAt = &d
	}
	return out
}

type createPaymentInput struct {
	CustomerID  int64  `json:"customer_id"`
	Currency    string `json:"currency"`
	Amount      string `json:"amount"`
	TaxIncluded bool   `json:"tax_included"`
	Transaction string `json:"transaction"`
	PaymentType string `json:"payment_type"`
	PayerEmail  string `json:"payer_email"`
	Comments    string `json:"comments"`
	// Confirm holds the payment until an operator confirms it.
	Confirm bool `json:"confirm"`
}

// createPayment answers POST /coffer/v1/payments: money paid in for a
// customer, with tax and conversion, as MOR's payment_create does.
func (h *handler) createPayment(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if h.payments == nil {
		return errPaymentsOff
	}
	m, err := h.acting(r, key)
	if err != nil {
		return err
	}
	var in createPaymentInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.CustomerID <= 0 {
		return invalidField("customer_id", "customer_id is required")
	}
	// The merchant's default tax rate is a setting of its MOR gateway.
	gw, err := h.merchants.Gateway(r.Context(), m, merchant.MOR)
	if err != nil {
		return err
	}
	p, replayed, err := h.payments.Create(r.Context(), payment.CreateParams{
		MerchantID: m, CustomerID: in.CustomerID, Currency: strings.ToUpper(in.Currency), Amount: in.Amount,
		TaxIncluded: in.TaxIncluded, Transaction: in.Transaction, PaymentType: in.PaymentType,
		PayerEmail: in.PayerEmail, Comments: in.Comments, Source: "api", Confirm: in.Confirm,
		DefaultTaxRate: gw.MOR.TaxRatePPM(),
	})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		w.Header().Set("Idempotency-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, toPayment(p))
	return nil
}

// listPayments answers GET /coffer/v1/payments?status=pending (the
// confirmation queue), oldest first.
func (h *handler) listPayments(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if h.payments == nil {
		return errPaymentsOff
	}
	m, err := h.acting(r, key)
	if err != nil {
		return err
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	f := store.PaymentFilter{MerchantID: m, Status: r.URL.Query().Get("status"), AfterID: after, Limit: limit + 1}
	if c := r.URL.Query().Get("customer_id"); c != "" {
		if f.CustomerID, err = strconv.ParseInt(c, 10, 64); err != nil {
			return invalidField("customer_id", "customer_id must be a number")
		}
	}
	ps, err := h.payments.List(r.Context(), f)
	if err != nil {
		return err
	}
	out, _ := pageOf(ps, limit, func(p store.Payment) int64 { return p.ID },
		func(p store.Payment) (paymentJSON, error) { return toPayment(p), nil })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) paymentID(r *http.Request, key store.APIKey) (int64, int64, error) {
	if h.payments == nil {
		return 0, 0, errPaymentsOff
	}
	m, err := h.acting(r, key)
	if err != nil {
		return 0, 0, err
	}
	id, ok := pathID(r)
	if !ok {
		return 0, 0, notFound("payment_not_found", "payment not found")
	}
	return m, id, nil
}

func (h *handler) getPayment(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, id, err := h.paymentID(r, key)
	if err != nil {
		return err
	}
	p, err := h.payments.Get(r.Context(), m, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPayment(p))
	return nil
}

// decider names who decided: the API key's name and id.
func decider(key store.APIKey) string {
	return "api-key:" + strconv.FormatInt(key.ID, 10) + " " + key.Name
}

func (h *handler) confirmPayment(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, id, err := h.paymentID(r, key)
	if err != nil {
		return err
	}
	p, err := h.payments.Confirm(r.Context(), m, id, decider(key))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPayment(p))
	return nil
}

func (h *handler) rejectPayment(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	m, id, err := h.paymentID(r, key)
	if err != nil {
		return err
	}
	p, err := h.payments.Reject(r.Context(), m, id, decider(key))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPayment(p))
	return nil
}

type rateJSON struct {
	Currency string `json:"currency"`
	Rate     string `json:"rate"`
	Base     string `json:"base"`
	SetAt    string `json:"set_at"`
	SetBy    string `json:"set_by,omitempty"`
}

// listRates answers GET /coffer/v1/rates: each currency's current rate
// (units of the base currency per unit).
func (h *handler) listRates(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if h.rates == nil {
		return errPaymentsOff
	}
	cur, err := h.rates.Current(r.Context())
	if err != nil {
		return err
	}
	out := listJSON[rateJSON]{Data: []rateJSON{}}
	for _, code := range slices.Sorted(maps.Keys(cur)) {
		row := cur[code]
		out.Data = append(out.Data, rateJSON{Currency: row.Currency, Rate: row.Rate, Base: h.rates.Base(), SetAt: timeJSON(row.SetAt), SetBy: row.SetBy})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setRate answers PUT /coffer/v1/rates/{currency} {"rate":"1.0834"}
// (admin keys: rates are the operator's).
func (h *handler) setRate(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if h.rates == nil {
		return errPaymentsOff
	}
	if key.Role != apikey.RoleAdmin {
		return errAdminOnly
	}
	var in struct {
		Rate string `json:"rate"`
	}
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	row, err := h.rates.Set(r.Context(), strings.ToUpper(r.PathValue("currency")), in.Rate, decider(key))
	if err != nil {
		return invalidField("rate", err.Error())
	}
	writeJSON(w, http.StatusOK, rateJSON{Currency: row.Currency, Rate: row.Rate, Base: h.rates.Base(), SetAt: timeJSON(row.SetAt), SetBy: row.SetBy})
	return nil
}
