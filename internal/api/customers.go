package api

import (
	"net/http"
	"strconv"

	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Customers of the acting merchant (see acting in merchants.go).

type customerJSON struct {
	ID        int64        `json:"id"`
	Email     string       `json:"email,omitempty"`
	Label     string       `json:"label,omitempty"`
	Currency  string       `json:"currency,omitempty"`
	OwnerID   int64        `json:"owner_id,omitempty"`
	TaxRate   string       `json:"tax_rate,omitempty"`
	CreatedAt string       `json:"created_at"`
	Wallets   []walletJSON `json:"wallets,omitempty"`
}

func toCustomer(c store.Customer) customerJSON {
	out := customerJSON{ID: c.ID, Email: c.Email, Label: c.Label, Currency: c.Currency, OwnerID: c.OwnerID, CreatedAt: timeJSON(c.CreatedAt)}
	if c.TaxRate != nil {
		out.TaxRate = wallet.FormatTaxRate(*c.TaxRate)
	}
	return out
}

type createCustomerInput struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Label    string `json:"label"`
	Currency string `json:"currency"`
	OwnerID  int64  `json:"owner_id"`
	// TaxRate is a percentage as a decimal string ("21", "7.5").
	TaxRate amountText `json:"tax_rate"`
	// Wallets lists assets to open wallets in at once ("" or "points": the
	// merchant's points).
	Wallets []string `json:"wallets"`
}

// createCustomer answers POST /coffer/v1/customers: 201 with the new
// customer, or 200 when a customer with that id exists with the same
// details (then the wallets it lacks are opened).
func (h *handler) createCustomer(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	var in createCustomerInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	p := wallet.CustomerParams{ID: in.ID, Email: in.Email, Label: in.Label, Currency: in.Currency, OwnerID: in.OwnerID}
	if in.TaxRate != "" {
		rate, err := wallet.ParseTaxRate(string(in.TaxRate))
		if err != nil {
			return err
		}
		p.TaxRate = &rate
	}
	for _, a := range in.Wallets {
		if a == "points" {
			a = ""
		}
		p.Wallets = append(p.Wallets, a)
	}
	res, err := h.wallets.CreateCustomer(r.Context(), mid, p)
	if err != nil {
		return err
	}
	out := toCustomer(res.Customer)
	for _, wl := range res.Wallets {
		wj, err := h.walletJSON(r, wl)
		if err != nil {
			return err
		}
		out.Wallets = append(out.Wallets, wj)
	}
	status := http.StatusCreated
	if !res.Created {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
	return nil
}

// getCustomer answers GET /coffer/v1/customers/{id}.
func (h *handler) getCustomer(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	id, ok := pathID(r)
	if !ok {
		return wallet.ErrCustomerNotFound
	}
	c, err := h.wallets.Customer(r.Context(), mid, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCustomer(c))
	return nil
}

// listCustomers answers GET /coffer/v1/customers?email=&label=&owner_id=.
func (h *handler) listCustomers(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.CustomerFilter{Email: q.Get("email"), Label: q.Get("label"), AfterID: after, Limit: limit + 1}
	if s := q.Get("owner_id"); s != "" {
		if f.OwnerID, err = strconv.ParseInt(s, 10, 64); err != nil || f.OwnerID <= 0 {
			return invalidField("owner_id", "owner_id must be a user id")
		}
	}
	cs, err := h.wallets.Customers(r.Context(), mid, f)
	if err != nil {
		return err
	}
	out, _ := pageOf(cs, limit, func(c store.Customer) int64 { return c.ID },
		func(c store.Customer) (customerJSON, error) { return toCustomer(c), nil })
	writeJSON(w, http.StatusOK, out)
	return nil
}
