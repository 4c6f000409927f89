package mugglepay

import (
	"strings"

	"github.com/coffer-pay/coffer/internal/dialect"
)

// createRequest is the body of POST /v1/orders.
type createRequest struct {
	merchantOrderID string
	priceAmount     string // exact decimal text, never a float64
	priceCurrency   string
	payCurrency     string
	title           string
	description     string
	callbackURL     string
	cancelURL       string
	successURL      string
	mobile, fast    bool
	token           string
}

// readCreate reads every body field of the seed. JSON numbers arrive as
// their text (dialect.Parse keeps it), so "price_amount": 9.99 and "9.99"
// are the same; merchant_order_id may be a number (the seed's curl sends
// 100388) or a string.
func readCreate(p *dialect.Params) (createRequest, error) {
	get := func(k string) string { return strings.TrimSpace(p.Last(k)) }
	req := createRequest{
		merchantOrderID: get("merchant_order_id"),
		priceAmount:     get("price_amount"),
		priceCurrency:   strings.ToUpper(get("price_currency")),
		payCurrency:     strings.ToUpper(get("pay_currency")),
		title:           p.Last("title"),
		description:     p.Last("description"),
		callbackURL:     get("callback_url"),
		cancelURL:       get("cancel_url"),
		successURL:      get("success_url"),
		mobile:          truthy(get("mobile")),
		fast:            truthy(get("fast")),
		token:           p.Last("token"),
	}
	if req.priceAmount == "" {
		return req, errMissing
	}
	if req.priceCurrency == "" {
		req.priceCurrency = "USD" // "Default USD"
	}
	// A JSON number in exponent form (1e2) or with a sign is not a price.
	for _, c := range req.priceAmount {
		if (c < '0' || c > '9') && c != '.' {
			return req, errPrice
		}
	}
	return req, nil
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}
