package mugglepay

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// apiError is one of MugglePay's published errors (WIRE-NOTES §2.7,
// spelling as published).
type apiError struct {
	code, text string
	order      *store.Order // ORDER_MERCHANTID_EXIST carries the existing order
	paymentURL string       // and its payment_url
}

func (e *apiError) Error() string  { return e.code + ": " + e.text }
func (e *apiError) Expected() bool { return true }

func errWith(code, text string) *apiError { return &apiError{code: code, text: text} }

var (
	errAuth         = errWith("AUTHENTICATION_FAILED", "Authentication Token is not set or expired.")
	errMissing      = errWith("PARAMETERS_MISSING", "Missing parameters.")
	errPrice        = errWith("PAY_PRICE_ERROR", "Price amount or currency is not set correctly.")
	errNotValid     = errWith("ORDER_NOT_VALID", "Order id is not valid.")
	errNoPermission = errWith("ORDER_NO_PERMISSION", "Order does not exist or permission denied.")
	errCancel       = errWith("ORDER_CANCELED_FAIILED", "Order can not be canceled.")
	errGeneric      = errWith("ERROR", "Error.")
)

// errorBody is the error answer: {"status":400,"error_code":…,"error":…},
// status an integer (WooCommerce compares === 400).
type errorBody struct {
	Status     int        `json:"status"`
	ErrorCode  string     `json:"error_code"`
	Error      string     `json:"error"`
	Order      *wireOrder `json:"order,omitempty"`
	PaymentURL string     `json:"payment_url,omitempty"`
}

// createBody is the answer of POST /v1/orders: HTTP 200 with "status":201.
type createBody struct {
	Status     int       `json:"status"`
	Order      wireOrder `json:"order"`
	PaymentURL string    `json:"payment_url"`
}

// getBody is the answer of GET /v1/orders/{id}.
type getBody struct {
	Status     int         `json:"status"`
	Merchant   struct{}    `json:"merchant"`
	Order      wireOrder   `json:"order"`
	Invoice    wireInvoice `json:"invoice"`
	Permission string      `json:"permission"`
}

// orderBody is the answer of cancel: {"status":200,"order":{…}}.
type orderBody struct {
	Status int       `json:"status"`
	Order  wireOrder `json:"order"`
}

// wireOrder is the order object in the seed's field order. Amounts are JSON
// numbers written from exact decimal text.
type wireOrder struct {
	UserID          int64           `json:"user_id"`
	MerchantOrderID string          `json:"merchant_order_id,omitempty"`
	Title           string          `json:"title,omitempty"`
	Description     string          `json:"description,omitempty"`
	CallbackURL     string          `json:"callback_url,omitempty"`
	CancelURL       string          `json:"cancel_url,omitempty"`
	SuccessURL      string          `json:"success_url,omitempty"`
	PriceAmount     json.RawMessage `json:"price_amount"`
	PriceCurrency   string          `json:"price_currency"`
	PayAmount       json.RawMessage `json:"pay_amount"`
	PayCurrency     string          `json:"pay_currency"`
	OrderID         string          `json:"order_id"`
	Status          string          `json:"status"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	PaidAt          string          `json:"paid_at,omitempty"`
}

// wireInvoice is the invoice of GET /v1/orders/{id}; WooCommerce's cron
// reads invoice.status, so it mirrors the order.
type wireInvoice struct {
	InvoiceID       string          `json:"invoice_id"`
	OrderID         string          `json:"order_id"`
	MerchantOrderID string          `json:"merchant_order_id,omitempty"`
	PayAmount       json.RawMessage `json:"pay_amount"`
	PayCurrency     string          `json:"pay_currency"`
	Status          string          `json:"status"`
	CreatedAt       string          `json:"created_at"`
	CreatedAtT      int64           `json:"created_at_t"`
	ExpiredAt       string          `json:"expired_at"`
	ExpiredAtT      int64           `json:"expired_at_t"`
}

// statusName maps Coffer's status to MugglePay's (docs/orders.md).
func statusName(s string) string {
	if s == store.OrderCancelled {
		return "CANCELED"
	}
	return strings.ToUpper(s)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func amount(o store.Order, v int64) json.RawMessage {
	scale, _ := money.CurrencyScale(o.PriceCurrency)
	return json.RawMessage(money.FormatTrim(v, scale))
}

func toWire(o store.Order) wireOrder {
	w := wireOrder{
		UserID: o.MerchantID, MerchantOrderID: o.MerchantOrderID, Title: o.Title, Description: o.Description,
		CallbackURL: o.CallbackURL, CancelURL: o.CancelURL, SuccessURL: o.SuccessURL,
		PriceAmount: amount(o, o.PriceAmount), PriceCurrency: o.PriceCurrency,
		PayAmount: amount(o, o.PriceAmount), PayCurrency: o.PayCurrency,
		OrderID: o.PublicID, Status: statusName(o.Status), CreatedAt: stamp(o.CreatedAt), UpdatedAt: stamp(o.UpdatedAt),
	}
	if o.PaidAt != nil {
		w.PaidAt = stamp(*o.PaidAt)
	}
	return w
}

func toInvoice(o store.Order) wireInvoice {
	return wireInvoice{
		InvoiceID: o.PublicID, OrderID: o.PublicID, MerchantOrderID: o.MerchantOrderID,
		PayAmount: amount(o, o.AmountDue), PayCurrency: o.PayCurrency, Status: statusName(o.Status),
		CreatedAt: stamp(o.CreatedAt), CreatedAtT: o.CreatedAt.UnixMilli(),
		ExpiredAt: stamp(o.ExpiresAt), ExpiredAtT: o.ExpiresAt.UnixMilli(),
	}
}

// paymentURL is <public base>/pay/invoices?id=<order_id>: it already has
// a query string, because clients append "&lang=zh" (WIRE-NOTES §2.3).
func paymentURL(base string, o store.Order) string {
	u := strings.TrimRight(base, "/") + "/pay/invoices?id=" + url.QueryEscape(o.PublicID)
	if o.Mobile {
		u += "&mobile=1"
	}
	return u
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
