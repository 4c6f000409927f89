// Package mugglepay speaks MugglePay's merchant API (seeds/002,
// DIALECTS.md §3, WIRE-NOTES §2): POST /v1/orders with the `token` header,
// GET /v1/orders/{id} and POST /v1/orders/{id}/cancel, over Coffer's
// orders. Choices made where the original is silent are in README.md.
package mugglepay

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/coffer-pay/coffer/internal/dialect"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/order"
	"github.com/coffer-pay/coffer/internal/store"
)

// Deps are what the dialect calls.
type Deps struct {
	Merchants *merchant.Service
	Orders    *order.Service
	// PublicURL is the server's public base URL; payment_url is
	// PublicURL + "/pay/invoices?id=<order_id>". Empty: the request's
	// scheme and Host.
	PublicURL string
	Logger    *slog.Logger
}

type handler struct{ Deps }

// NewHandler serves MugglePay's order endpoints.
func NewHandler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{d}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/orders", dialect.Handler(d.Logger, "mugglepay", fail, h.create))
	mux.Handle("GET /v1/orders/{id}", dialect.Handler(d.Logger, "mugglepay", fail, h.get))
	mux.Handle("POST /v1/orders/{id}/cancel", dialect.Handler(d.Logger, "mugglepay", fail, h.cancel))
	return mux
}

// fail answers HTTP 400 with {"status":400,"error_code":…,"error":…}
// ("MugglePay Server will always return status 400"); an unexpected
// failure is HTTP 500 with error_code ERROR, so that clients retry.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		body := errorBody{Status: 400, ErrorCode: ae.code, Error: ae.text}
		if ae.order != nil {
			wo := toWire(*ae.order)
			body.Order = &wo
			body.PaymentURL = ae.paymentURL
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	}
	writeJSON(w, http.StatusInternalServerError, errorBody{Status: 500, ErrorCode: errGeneric.code, Error: errGeneric.text})
}

// OnPanic answers a panic outside the handler in MugglePay's format.
func OnPanic(w http.ResponseWriter, r *http.Request) { fail(w, r, dialect.ErrInternal) }

// authenticate finds the merchant of the `token` header. A closed gateway
// is answered like an unknown token.
func (h *handler) authenticate(r *http.Request) (int64, error) {
	gw, err := h.Merchants.Authenticate(r.Context(), merchant.MugglePay, r.Header.Get("token"))
	if errors.Is(err, merchant.ErrUnknownKey) {
		return 0, errAuth
	} else if err != nil {
		return 0, err
	}
	if !gw.Open {
		return 0, errAuth
	}
	return gw.MerchantID, nil
}

// create is POST /v1/orders (seeds/002, "Create Order"):
//
//	"price_amount double Yes The price set by the merchant. Example: 9.99
//	 price_currency string Yes … Default USD"
func (h *handler) create(w http.ResponseWriter, r *http.Request) error {
	mid, err := h.authenticate(r)
	if err != nil {
		return err
	}
	params, err := dialect.Parse(r, dialect.ParseOptions{JSON: true})
	if err != nil {
		return errMissing
	}
	req, err := readCreate(params)
	if err != nil {
		return err
	}
	o, err := h.Orders.Create(r.Context(), order.CreateParams{
		MerchantID: mid, MerchantOrderID: req.merchantOrderID, Source: "mugglepay",
		PriceAmount: req.priceAmount, PriceCurrency: req.priceCurrency,
		Title: req.title, Description: req.description,
		CallbackURL: req.callbackURL, CancelURL: req.cancelURL, SuccessURL: req.successURL,
		Token: req.token, Mobile: req.mobile, Fast: req.fast,
	})
	switch {
	case errors.Is(err, order.ErrMerchantOrderID):
		// "Order with same merchant_order_id exisits." with the existing
		// order and its payment_url (WooCommerce and WHMCS reuse them).
		return &apiError{code: "ORDER_MERCHANTID_EXIST", text: "Order with same merchant_order_id exisits.",
			order: &o, paymentURL: paymentURL(h.base(r), o)}
	case errors.Is(err, order.ErrCurrency), errors.Is(err, order.ErrPayCurrency):
		return errPrice
	case err != nil:
		var le *ledger.Error
		if errors.As(err, &le) && le.Kind == ledger.KindInvalid {
			if le.Field == "price_amount" {
				return errPrice
			}
			return errWith("ERROR", le.Message)
		}
		return err
	}
	writeJSON(w, http.StatusOK, createBody{Status: 201, Order: toWire(o), PaymentURL: paymentURL(h.base(r), o)})
	return nil
}

func (h *handler) base(r *http.Request) string {
	if h.PublicURL != "" {
		return h.PublicURL
	}
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (h *handler) order(r *http.Request) (store.Order, error) {
	mid, err := h.authenticate(r)
	if err != nil {
		return store.Order{}, err
	}
	id := strings.ToLower(r.PathValue("id"))
	if !uuidRE.MatchString(id) {
		return store.Order{}, errNotValid
	}
	o, err := h.Orders.ByPublicID(r.Context(), mid, id)
	if errors.Is(err, order.ErrNotFound) {
		return o, errNoPermission
	}
	return o, err
}

// get is GET /v1/orders/{id}: {"status":200,"merchant":{},"order":{…},
// "invoice":{…},"permission":""}.
func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	o, err := h.order(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, getBody{Status: 200, Order: toWire(o), Invoice: toInvoice(o)})
	return nil
}

// cancel is POST /v1/orders/{id}/cancel ("use it when the order status is
// NEW"; we also cancel a PENDING order).
func (h *handler) cancel(w http.ResponseWriter, r *http.Request) error {
	o, err := h.order(r)
	if err != nil {
		return err
	}
	o, err = h.Orders.Cancel(r.Context(), o.MerchantID, o.ID)
	if err != nil {
		var le *ledger.Error
		if errors.As(err, &le) && le.Kind == ledger.KindConflict {
			return errCancel
		}
		return err
	}
	writeJSON(w, http.StatusOK, orderBody{Status: 200, Order: toWire(o)})
	return nil
}
