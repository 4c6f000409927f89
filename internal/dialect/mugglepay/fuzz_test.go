package mugglepay

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/dialect"
	"github.com/coffer-pay/coffer/internal/money"
)

// FuzzReadCreate: any body either fails with a MugglePay error or yields a
// request whose price is plain decimal text.
func FuzzReadCreate(f *testing.F) {
	for _, s := range []string{
		`{"merchant_order_id": 100388, "price_amount": 10, "price_currency": "USD"}`,
		`{"price_amount":"9.99","title":"x","mobile":true,"fast":"1"}`,
		`{"price_amount":1e2}`, `{"price_amount":null}`, `[]`, `{"price_amount":{"a":1}}`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/orders", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		p, err := dialect.Parse(r, dialect.ParseOptions{JSON: true})
		if err != nil {
			return
		}
		req, err := readCreate(p)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if req.priceAmount == "" || req.priceCurrency == "" {
			t.Fatalf("accepted without price: %+v", req)
		}
		if strings.Trim(req.priceAmount, "0123456789.") != "" {
			t.Fatalf("price %q is not decimal text", req.priceAmount)
		}
		_, _ = money.Parse(req.priceAmount, 2)
	})
}
