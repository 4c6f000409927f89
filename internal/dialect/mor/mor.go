package mor

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/coffer-pay/coffer/internal/dialect"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Paths are payment_create's paths: the current name and the older one,
// with and without MOR's /billing prefix.
var Paths = []string{
	"/billing/api/payment_create", "/billing/api/create_payment",
	"/api/payment_create", "/api/create_payment",
}

// Deps are what the dialect calls.
type Deps struct {
	Merchants *merchant.Service
	Wallets   *wallet.Service
	Payments  *payment.Service
	Logger    *slog.Logger
}

type handler struct{ Deps }

// NewHandler serves payment_create at every path in Paths.
func NewHandler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{d}
	mux := http.NewServeMux()
	serve := dialect.Handler(d.Logger, "mor", fail, h.paymentCreate)
	for _, p := range Paths {
		mux.Handle(p, serve)
	}
	return mux
}

// fail answers an error in MOR's XML envelope, with HTTP 200 like MOR.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *morError
	if !errors.As(err, &me) {
		me = notSaved("Internal error: the payment was not saved; try again")
	}
	writeXML(w, errorPage{Error: me.text, Message: me.message})
}

// OnPanic answers a panic outside the handler in MOR's format.
func OnPanic(w http.ResponseWriter, r *http.Request) { fail(w, r, dialect.ErrInternal) }

// paymentCreate is MOR API payment_create (seeds/001):
//
//	"Create new payment from params. User balance will change if new payment
//	is completed and admin confirmation is off in the settings."
func (h *handler) paymentCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	params, err := dialect.Parse(r, dialect.ParseOptions{JSON: true})
	if err != nil {
		return notSaved("The request could not be read")
	}
	req := readRequest(params)

	// "u - username (admin/reseller) for authentication. Required."
	user, err := h.Merchants.UserByName(ctx, req.get("u"))
	if err != nil {
		return h.authError(err)
	}
	gw, err := h.Merchants.Gateway(ctx, user.MerchantID, merchant.MOR)
	if err != nil {
		return err
	}
	if !gw.Open {
		return errAPIDisabled
	}
	// "Methods: POST, GET(if allowed, not recomended)"
	if r.Method == http.MethodGet && !gw.MOR.AllowGET {
		return errGETDisabled
	}
	if !gw.MOR.Allows(user.Username) {
		return errBadLogin
	}
	// "hash - SHA1 hash constructed using params and API_Secret_Key.
	// Required (if setting Disable hash checking is not checked)."
	if gw.MOR.HashCheck {
		secrets, err := h.Merchants.Secrets(ctx, user.MerchantID, merchant.MOR)
		if err != nil {
			return err
		}
		ok := false
		for _, s := range secrets {
			ok = req.hashOK(s.Reveal()) || ok
		}
		if !ok {
			return errIncorrectHash
		}
	}
	// "Access Denied - User was not found or the current user is not an
	// owner of user which payment have to be done for."
	uid, err := strconv.ParseInt(req.get("user_id"), 10, 64)
	if err != nil || uid < 1 {
		return errAccessDenied
	}
	cust, err := h.Wallets.Customer(ctx, user.MerchantID, uid)
	if errors.Is(err, wallet.ErrCustomerNotFound) {
		return errAccessDenied
	} else if err != nil {
		return err
	}
	if !user.Owns(cust.OwnerID) {
		return errAccessDenied
	}
	cur := req.get("p_currency")
	if _, ok := money.CurrencyScale(cur); !ok {
		return errNoCurrency
	}
	var included bool
	switch req.get("tax_in_amount") {
	case "", "0":
	case "1":
		included = true
	default:
		return notSaved("tax_in_amount must be 0 or 1")
	}
	if req.get("amount") == "" {
		return notSaved("amount is required")
	}
	p, _, err := h.Payments.Create(ctx, payment.CreateParams{
		MerchantID: user.MerchantID, CustomerID: uid, Currency: cur, Amount: req.get("amount"),
		TaxIncluded: included, Transaction: req.get("transaction"), PaymentType: req.get("paymenttype"),
		PayerEmail: req.get("payer_email"), Comments: req.get("comments_for_user"),
		Username: user.Username, Source: "mor", Confirm: gw.MOR.Confirmation,
		DefaultTaxRate: gw.MOR.TaxRatePPM(),
	})
	if err != nil {
		return h.createError(ctx, err)
	}
	writeXML(w, success(p))
	return nil
}

func (h *handler) authError(err error) error {
	if errors.Is(err, merchant.ErrUserNotFound) {
		return errBadLogin
	}
	return err
}

// createError maps the payment service's failures to MOR's errors.
func (h *handler) createError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, payment.ErrNoCurrency):
		return errNoCurrency
	case errors.Is(err, wallet.ErrCustomerNotFound):
		return errAccessDenied
	}
	var le *ledger.Error
	if errors.As(err, &le) && le.Kind != ledger.KindInternal && le.Kind != ledger.KindUnavailable {
		return notSaved(le.Message)
	}
	return err // unexpected: logged by dialect.Handler, answered as not saved
}

func success(p store.Payment) successPage {
	var page successPage
	scale, _ := money.CurrencyScale(p.Currency)
	page.Response.Status = "ok"
	page.Response.Confirmed = "Yes"
	if p.Status == store.PaymentPending || p.Status == store.PaymentRejected {
		page.Response.Confirmed = "No"
	}
	page.Response.Payment.Currency = p.Currency
	page.Response.Payment.PaymentID = p.ID
	page.Response.Payment.Tax = money.Format(p.Tax, scale)
	page.Response.Payment.Amount = money.Format(p.Amount, scale)
	page.Response.Payment.Gross = money.Format(p.Gross, scale)
	return page
}
