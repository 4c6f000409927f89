package mor

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/dialect"
)

// The seed document's request, byte for byte (001_*.txt).
const seedURL = "/billing/api/payment_create?u=admin&user_id=123&p_currency=EUR&paymenttype=Myname&tax_in_amount=1&amount=100&transaction=2S5sdf77&payer_email=bla&u=username&hash=687a2cee0a61dee0bffa3bc8837e201a6a31af5d"

func parseURL(t testing.TB, method, url string) request {
	t.Helper()
	p, err := dialect.Parse(httptest.NewRequest(method, url, nil), dialect.ParseOptions{JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	return readRequest(p)
}

func TestSeedHash(t *testing.T) {
	r := parseURL(t, "POST", seedURL)
	if got := r.expectedHashes("456789")[0]; got != "687a2cee0a61dee0bffa3bc8837e201a6a31af5d" {
		t.Fatalf("hash = %s, want the document's 687a2cee…", got)
	}
	if !r.hashOK("456789") {
		t.Fatalf("the document's request is refused")
	}
	if r.get("u") != "username" {
		t.Errorf("u = %q: a repeated parameter must take its last value", r.get("u"))
	}
	if r.hashOK("456788") {
		t.Errorf("a wrong secret is accepted")
	}
}

func TestHashVariants(t *testing.T) {
	tests := []struct {
		name, url, secret string
		ok                bool
	}{
		{"upper-case hash", strings.Replace(seedURL, "687a2cee0a61dee0bffa3bc8837e201a6a31af5d", "687A2CEE0A61DEE0BFFA3BC8837E201A6A31AF5D", 1), "456789", true},
		{"hash missing", strings.Replace(seedURL, "&hash=687a2cee0a61dee0bffa3bc8837e201a6a31af5d", "", 1), "456789", false},
		{"hash stripped of a parameter's value", strings.Replace(seedURL, "amount=100", "amount=1000", 1), "456789", false},
		// user_id=123 and secret 456789 only: sha1("123456789")
		{"only user_id", "/api/payment_create?u=admin&user_id=123&hash=f7c3bc1d808e04732adf679965ccc34ca7ae3441", "456789", true},
		// comments_for_user hashed after payer_email, or not at all.
		{"comments hashed", "/api/payment_create?user_id=1&amount=5&comments_for_user=hi&hash=" + sha1Hex("15hisecret"), "secret", true},
		{"comments not hashed", "/api/payment_create?user_id=1&amount=5&comments_for_user=hi&hash=" + sha1Hex("15secret"), "secret", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseURL(t, "POST", tc.url).hashOK(tc.secret); got != tc.ok {
				t.Errorf("hashOK = %v, want %v", got, tc.ok)
			}
		})
	}
}

func FuzzHash(f *testing.F) {
	f.Add(seedURL[len("/billing/api/payment_create?"):], "456789", "687a2cee0a61dee0bffa3bc8837e201a6a31af5d")
	f.Add("user_id=1&user_id=2", "", "")
	f.Fuzz(func(t *testing.T, query, secret, hash string) {
		req := httptest.NewRequest("GET", "/api/payment_create", nil)
		req.URL.RawQuery = query
		p, err := dialect.Parse(req, dialect.ParseOptions{})
		if err != nil {
			return
		}
		r := readRequest(p)
		want := r.expectedHashes(secret)
		if len(want) == 0 || len(want[0]) != 40 {
			t.Fatalf("expected hashes %v", want)
		}
		// The real hash is always accepted; another text only if equal.
		r.values["hash"] = want[0]
		if !r.hashOK(secret) {
			t.Fatalf("own hash refused")
		}
		r.values["hash"] = hash
		if r.hashOK(secret) && !strings.EqualFold(hash, want[0]) && (len(want) < 2 || !strings.EqualFold(hash, want[1])) {
			t.Fatalf("foreign hash %q accepted", hash)
		}
	})
}
