package paykassma

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseActivate(t *testing.T) {
	a, err := parseActivate(strings.NewReader(`{"currency_code":"MMK","wallet_type":"wavepay","label":"u","key1":"12345678901","amount":6000,"custom_transaction_id":"c"}`))
	if err != nil || a.Amount != "6000" || a.Key1 != "12345678901" || a.Currency != "MMK" {
		t.Fatalf("%+v %v", a, err)
	}
	for _, body := range []string{
		``, `[]`, `{"currency_code":"MMK"}`, `{"currency_code":"MMK","currency_code":"MMK"}`,
		`{"currency_code":"mmk","wallet_type":"wavepay","label":"u","key1":"1","amount":1,"custom_transaction_id":"c"}`,
		`{"currency_code":"MMK","wallet_type":"wavepay","label":"u","key1":"1","amount":1,"custom_transaction_id":"c"} {}`,
		`{"currency_code":"MMK","wallet_type":"wavepay","label":"u\u0000","key1":"1","amount":1,"custom_transaction_id":"c"}`,
	} {
		if _, err := parseActivate(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
}

// FuzzParse checks that the parsers never panic and that what they accept
// keeps the documented limits.
func FuzzParse(f *testing.F) {
	f.Add(`{"currency":"MMK","label":"user-42"}`)
	f.Add(`{"currency_code":"MMK","wallet_type":"wavepay","label":"u","key1":"12345678901","amount":6000,"custom_transaction_id":"c"}`)
	f.Add(`{"amount":"1e400","key1":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		if c, err := parseCreate(strings.NewReader(body)); err == nil {
			if len(c.Currency) != 3 || c.Label == "" || utf8.RuneCountInString(c.Label) > maxLabel {
				t.Fatalf("accepted %+v", c)
			}
		}
		if a, err := parseActivate(strings.NewReader(body)); err == nil {
			if len(a.Currency) != 3 || a.Key1 == "" || utf8.RuneCountInString(a.Key1) > maxKey1 || a.CustomID == "" || a.Amount == "" ||
				utf8.RuneCountInString(a.Label) > maxLabel || !utf8.ValidString(a.Label+a.Key1+a.CustomID+a.WalletType) {
				t.Fatalf("accepted %+v", a)
			}
		}
	})
}
