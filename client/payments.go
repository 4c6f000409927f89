package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Payment is money paid in for a customer, with its tax and its conversion
// into the wallet's currency. Amounts are exact decimal strings.
type Payment struct {
	ID               int64      `json:"id"`
	CustomerID       int64      `json:"customer_id"`
	Status           string     `json:"status"` // completed, pending, confirmed, rejected
	Source           string     `json:"source"`
	Transaction      string     `json:"transaction,omitempty"`
	Currency         string     `json:"currency"`
	Amount           string     `json:"amount"`
	Tax              string     `json:"tax"`
	Gross            string     `json:"gross"`
	TaxRate          string     `json:"tax_rate"`
	TaxIncluded      bool       `json:"tax_included"`
	WalletID         int64      `json:"wallet_id"`
	WalletCurrency   string     `json:"wallet_currency"`
	Rate             string     `json:"rate"`
	Credited         string     `json:"credited"`
	TaxCredited      string     `json:"tax_credited"`
	CreditTransferID int64      `json:"credit_transfer_id"`
	TaxTransferID    int64      `json:"tax_transfer_id,omitempty"`
	PaymentType      string     `json:"payment_type,omitempty"`
	PayerEmail       string     `json:"payer_email,omitempty"`
	Comments         string     `json:"comments,omitempty"`
	Username         string     `json:"username,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	DecidedAt        *time.Time `json:"decided_at,omitempty"`
	DecidedBy        string     `json:"decided_by,omitempty"`
	// Replayed is true when the transaction id was seen before.
	Replayed bool `json:"-"`
}

// CreatePaymentRequest records a payment.
type CreatePaymentRequest struct {
	CustomerID  int64  `json:"customer_id"`
	Currency    string `json:"currency"`
	Amount      string `json:"amount"`
	TaxIncluded bool   `json:"tax_included,omitempty"`
	Transaction string `json:"transaction,omitempty"`
	PaymentType string `json:"payment_type,omitempty"`
	PayerEmail  string `json:"payer_email,omitempty"`
	Comments    string `json:"comments,omitempty"`
	Confirm     bool   `json:"confirm,omitempty"`
}

// PaymentPage is one page of payments, oldest first.
type PaymentPage struct {
	Data       []Payment `json:"data"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// ListPaymentsParams filter payments; Status "pending" is the
// confirmation queue.
type ListPaymentsParams struct {
	Status     string
	CustomerID int64
	Cursor     string
	Limit      int
}

// Rate is a currency's exchange rate against the base currency.
type Rate struct {
	Currency string    `json:"currency"`
	Rate     string    `json:"rate"`
	Base     string    `json:"base"`
	SetAt    time.Time `json:"set_at"`
	SetBy    string    `json:"set_by,omitempty"`
}

// CreatePayment records a payment for a customer.
func (c *Client) CreatePayment(ctx context.Context, r CreatePaymentRequest) (Payment, error) {
	var out Payment
	a, err := c.do(ctx, http.MethodPost, Prefix+"/payments", nil, r, &out)
	out.Replayed = a.replayed
	return out, err
}

// ListPayments lists payments.
func (c *Client) ListPayments(ctx context.Context, p ListPaymentsParams) (PaymentPage, error) {
	q := pageQuery(p.Cursor, p.Limit)
	if p.Status != "" {
		q.Set("status", p.Status)
	}
	if p.CustomerID != 0 {
		q.Set("customer_id", itoa(p.CustomerID))
	}
	var out PaymentPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/payments", q, nil, &out)
	return out, err
}

// GetPayment reads a payment.
func (c *Client) GetPayment(ctx context.Context, id int64) (Payment, error) {
	var out Payment
	_, err := c.do(ctx, http.MethodGet, Prefix+"/payments/"+itoa(id), nil, nil, &out)
	return out, err
}

// ConfirmPayment confirms a pending payment: the wallet is credited once.
func (c *Client) ConfirmPayment(ctx context.Context, id int64) (Payment, error) {
	var out Payment
	_, err := c.do(ctx, http.MethodPost, Prefix+"/payments/"+itoa(id)+"/confirm", nil, struct{}{}, &out)
	return out, err
}

// RejectPayment rejects a pending payment: its holds are voided.
func (c *Client) RejectPayment(ctx context.Context, id int64) (Payment, error) {
	var out Payment
	_, err := c.do(ctx, http.MethodPost, Prefix+"/payments/"+itoa(id)+"/reject", nil, struct{}{}, &out)
	return out, err
}

// ListRates lists the current exchange rates.
func (c *Client) ListRates(ctx context.Context) ([]Rate, error) {
	var out struct {
		Data []Rate `json:"data"`
	}
	_, err := c.do(ctx, http.MethodGet, Prefix+"/rates", nil, nil, &out)
	return out.Data, err
}

// SetRate sets a currency's rate (units of the base currency per unit).
func (c *Client) SetRate(ctx context.Context, currency, rate string) (Rate, error) {
	var out Rate
	_, err := c.do(ctx, http.MethodPut, Prefix+"/rates/"+url.PathEscape(currency), nil, map[string]string{"rate": rate}, &out)
	return out, err
}
