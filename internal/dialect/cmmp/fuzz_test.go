package cmmp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/dialect/cmmp"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/server"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// FuzzKey sends arbitrary key text, in the query string or a form body,
// through the mounted handler: nothing panics, the answer is always the
// dialect's, only the merchant's own key moves points, and another
// merchant's key never reaches its wallet.
func FuzzKey(f *testing.F) {
	ctx := context.Background()
	st := sqlite.OpenTest(f)
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	f.Cleanup(func() { eng.Close(context.Background()) })
	sealer, err := seal.New(seal.NewKey())
	if err != nil {
		f.Fatal(err)
	}
	ms := merchant.New(st, sealer, merchant.Options{})
	ws := wallet.New(eng, wallet.Options{})
	var keys []string
	var mids []int64
	for _, name := range []string{"site", "other site"} {
		c, err := ms.Create(ctx, merchant.CreateParams{Name: name})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := ms.SetOpen(ctx, c.Merchant.ID, merchant.CMMP, true); err != nil {
			f.Fatal(err)
		}
		keys = append(keys, c.Keys[0].Secret.Reveal())
		mids = append(mids, c.Merchant.ID)
	}
	real, other := keys[0], keys[1]
	res, err := ws.CreateCustomer(ctx, mids[0], wallet.CustomerParams{ID: 1, Wallets: []string{""}})
	if err != nil {
		f.Fatal(err)
	}
	w := res.Wallets[0]
	h := server.New(server.Options{Surfaces: []server.Surface{{Name: "cmmp", Pattern: cmmp.Prefix, QueryParam: cmmp.RouteParam,
		Handler: cmmp.NewHandler(cmmp.Deps{Merchants: ms, Wallets: ws}), OnPanic: cmmp.OnPanic}}}).Handler()
	balance := func() int64 {
		b, err := ws.Balance(ctx, mids[0], w.ID)
		if err != nil {
			f.Fatal(err)
		}
		return b.Posted
	}
	for _, k := range []string{real, other, "", " ", real + " ", " " + real, strings.ToUpper(real), real[:len(real)-1], real + "\x00", "abcde", "\xff\xfe", strings.Repeat("k", 300)} {
		f.Add(k, false)
		f.Add(k, true)
	}
	f.Fuzz(func(t *testing.T, key string, inBody bool) {
		before := balance()
		q := url.Values{"wallet_id": {w.Name}, "points": {"1"}, "key": {key}}
		var req *http.Request
		if inBody {
			req = httptest.NewRequest("POST", "/wp-json/cmmpexapi/v1/charge_wallet", strings.NewReader(q.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest("GET", "/?rest_route=/cmmpexapi/v1/charge_wallet&"+q.Encode(), nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		var want string
		moved := int64(0)
		switch key {
		case real:
			want, moved = ok, 1
		case other:
			want = failed(cmmp.MsgNoWallet)
		case "":
			want = failed(cmmp.MsgMissingKey)
		default:
			want = failed(cmmp.MsgWrongKey)
		}
		if rec.Code != 200 || body != want {
			t.Fatalf("key %q: %d %s, want %s", key, rec.Code, body, want)
		}
		if got := balance(); got != before+moved {
			t.Fatalf("key %q: balance %d → %d", key, before, got)
		}
	})
}
