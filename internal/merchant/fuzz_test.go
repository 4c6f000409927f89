package merchant_test

import (
	"context"
	"errors"
	"testing"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

func mustLedgerErr(code string) *ledger.Error { return &ledger.Error{Code: code} }

// codeOf is the ledger error code of err, or "".
func codeOf(err error) string {
	var le *ledger.Error
	if errors.As(err, &le) {
		return le.Code
	}
	return ""
}

// FuzzAuthenticate: whatever is presented as a key, the lookup never
// panics, and it succeeds only for the real key.
func FuzzAuthenticate(f *testing.F) {
	fix := newFixture(f, sqlite.OpenTest(f))
	c, err := fix.svc.Create(context.Background(), merchant.CreateParams{Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	real := keyOf(c, merchant.CMMP).Secret.Reveal()
	webID := keyOf(c, merchant.WebTV).KeyID
	f.Add(real)
	f.Add(webID)
	f.Add("")
	f.Add("\x00\xff")
	f.Add(real[:20])
	f.Fuzz(func(t *testing.T, presented string) {
		ctx := context.Background()
		g, err := fix.svc.Authenticate(ctx, merchant.CMMP, presented)
		switch {
		case presented == real:
			if err != nil || g.MerchantID != c.Merchant.ID {
				t.Fatalf("the real key was refused: %v", err)
			}
		case !errors.Is(err, merchant.ErrUnknownKey):
			t.Fatalf("Authenticate(%q) = %v, want unknown_key", presented, err)
		}
		_, sec, err := fix.svc.WebTVKey(ctx, presented)
		switch {
		case presented == webID:
			if err != nil || sec.Reveal() == "" {
				t.Fatalf("the real key id was refused: %v", err)
			}
		case !errors.Is(err, merchant.ErrUnknownKey):
			t.Fatalf("WebTVKey(%q) = %v, want unknown_key", presented, err)
		}
	})
}

// FuzzEqual: the constant-time comparison agrees with ==.
func FuzzEqual(f *testing.F) {
	f.Add("a", "a")
	f.Add("a", "b")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got := merchant.Equal(a, b); got != (a == b) {
			t.Fatalf("Equal(%q, %q) = %v", a, b, got)
		}
	})
}
