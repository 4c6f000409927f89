package cmmp_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/dialect/cmmp"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/server"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// seedKey is the secure key of the document's examples.
const seedKey = "abcde"

type env struct {
	t   *testing.T
	st  store.Store
	srv *httptest.Server
	ms  *merchant.Service
	ws  *wallet.Service
	mid int64
}

// newEnv serves the dialect through the real server (its root mux, the
// /wp-json/ mount and the rest_route hook) for a merchant whose CMMP key is
// key and whose gateway is open.
func newEnv(t *testing.T, st store.Store, key string) *env {
	t.Helper()
	ctx := context.Background()
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	sealer, err := seal.New(seal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	ms := merchant.New(st, sealer, merchant.Options{})
	ws := wallet.New(eng, wallet.Options{})
	c, err := ms.Create(ctx, merchant.CreateParams{Name: "wordpress site"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, ms: ms, ws: ws, mid: c.Merchant.ID}
	if len(key) < merchant.MinSecretLen {
		importKey(t, st, e.mid, key)
	} else if _, err := ms.SetKey(ctx, e.mid, merchant.CMMP, "", config.Secret(key), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.SetOpen(ctx, e.mid, merchant.CMMP, true); err != nil {
		t.Fatal(err)
	}
	h := cmmp.NewHandler(cmmp.Deps{Merchants: ms, Wallets: ws, RequestID: server.RequestID, PageSize: 3})
	srv := server.New(server.Options{Surfaces: []server.Surface{
		{Name: "cmmp", Pattern: cmmp.Prefix, QueryParam: cmmp.RouteParam, Handler: h, OnPanic: cmmp.OnPanic},
		{Name: "elsewhere", Pattern: "/elsewhere", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "elsewhere")
		})},
	}})
	e.srv = httptest.NewServer(srv.Handler())
	// Cleanups run last in, first out: verify after the engine stopped.
	t.Cleanup(func() {
		rep, err := ledger.Verify(context.Background(), st)
		if err != nil || !rep.OK() {
			t.Errorf("ledger.Verify: %v %v", err, rep.Problems)
		}
	})
	t.Cleanup(func() { eng.Close(context.Background()) })
	t.Cleanup(e.srv.Close)
	return e
}

// importKey stores a CMMP key shorter than merchant.SetKey allows (the
// document's "abcde" has 5 characters; operators must choose at least
// merchant.MinSecretLen). The stored form is the key's SHA-256, as SetKey
// stores it, so Authenticate finds it the ordinary way.
func importKey(t *testing.T, st store.Store, merchantID int64, key string) {
	t.Helper()
	sum := sha256.Sum256([]byte(key))
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := store.Credential{MerchantID: merchantID, Dialect: string(merchant.CMMP), Lookup: hex.EncodeToString(sum[:]), CreatedAt: now}
	if err := st.ReplaceCredential(context.Background(), &c, now, nil); err != nil {
		t.Fatal(err)
	}
}

// customer makes a customer with a points wallet holding points (minor
// units).
func (e *env) customer(id int64, email string, points int64) store.Wallet {
	e.t.Helper()
	ctx := context.Background()
	res, err := e.ws.CreateCustomer(ctx, e.mid, wallet.CustomerParams{ID: id, Email: email, Wallets: []string{""}})
	if err != nil {
		e.t.Fatal(err)
	}
	w := res.Wallets[0]
	if points != 0 {
		if _, err := e.ws.Charge(ctx, e.mid, w.ID, points, fmt.Sprintf("setup-%d", id)); err != nil {
			e.t.Fatal(err)
		}
	}
	return w
}

func (e *env) balance(w store.Wallet) int64 {
	e.t.Helper()
	b, err := e.ws.Balance(context.Background(), e.mid, w.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return b.Posted
}

func (e *env) transfers() int {
	e.t.Helper()
	ts, err := e.st.Transfers(context.Background(), store.TransferFilter{MerchantID: e.mid, Limit: 10000})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ts)
}

// do sends a request; target is a path with its query string.
func (e *env) do(method, target, contentType, body string) (int, http.Header, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+target, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) get(target string) string {
	e.t.Helper()
	code, hd, body := e.do("GET", target, "", "")
	if code != 200 || hd.Get("Content-Type") != "application/json; charset=UTF-8" {
		e.t.Errorf("GET %s: %d %q %s", target, code, hd.Get("Content-Type"), body)
	}
	return body
}

const ok = `{"success":true,"message":[]}`

func failed(msg string) string { return `{"success":false,"message":[` + quote(msg) + `]}` }

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// seedFixture makes wallet id 123, owned by john@doe.com, holding 40
// points: the document's examples then do, in order, what it says.
func seedFixture(t *testing.T, e *env) store.Wallet {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make(chan int64)
	errs := make(chan error, 122)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if _, err := e.ws.CreateCustomer(ctx, e.mid, wallet.CustomerParams{ID: id, Wallets: []string{""}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	for id := int64(1); id <= 122; id++ {
		ids <- id
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	w := e.customer(123, "john@doe.com", 40)
	if w.ID != 123 {
		t.Fatalf("the fixture's wallet has id %d, want 123", w.ID)
	}
	return w
}

// TestSeedExamples sends every example URL of the document, as written
// (their hosts are "your_domain" and "test.com"), in an order in which each
// does what the document says.
func TestSeedExamples(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, seedKey)
		w := seedFixture(t, e)
		steps := []struct {
			example string
			want    string
			balance int64
		}{
			{"your_domain/wp-json/cmmpexapi/v1/wallet_has_enough_points?wallet_id=123&points=10&key=abcde", ok, 40},
			{"your_domain/wp-json/cmmpexapi/v1/wallet_has_enough_points?email=john@doe.com&points=10&key=abcde", ok, 40},
			{"test.com/wp-json/cmmpexapi/v1/withdraw_wallet_points?wallet_id=123&points=10&key=abcde", ok, 30},
			{"test.com/wp-json/cmmpexapi/v1/withdraw_wallet_points?email=john@doe.com&points=10&key=abcde", ok, 20},
			{"your_domain/wp-json/cmmpexapi/v1/charge_wallet?wallet_id=123&points=-10&key=abcde", ok, 10},
			{"your_domain/wp-json/cmmpexapi/v1/charge_wallet?email=john@doe.com&points=-10&key=abcde", ok, 0},
			// "Response Format" examples.
			{"your_domain/wp-json/cmmpexapi/v1/wallet_has_enough_points?wallet_id=123&points=10&key=abcde", `{"success":false,"message":["Wallet doesn't have enough points"]}`, 0},
			{"your_domain/wp-json/cmmpexapi/v1/wallet_has_enough_points?points=10&key=abcde", `{"success":false,"message":["Please provide wallet id or email and points"]}`, 0},
			{"your_domain/wp-json/cmmpexapi/v1/withdraw_wallet_points?wallet_id=123&key=abcde", `{"success":false,"message":["Please provide wallet id or email and points"]}`, 0},
			{"your_domain/wp-json/cmmpexapi/v1/charge_wallet?wallet_id=123&points=10", `{"success":false,"message":["Please provide a secure key"]}`, 0},
		}
		for i, s := range steps {
			_, target, _ := strings.Cut(s.example, "/")
			if got := e.get("/" + target); got != s.want {
				t.Errorf("step %d %s:\n got %s\nwant %s", i, s.example, got, s.want)
			}
			if got := e.balance(w); got != s.balance {
				t.Errorf("step %d %s: balance %d, want %d", i, s.example, got, s.balance)
			}
		}
		// Withdrawals went to the merchant's revenue; charges to the mint.
		rev, err := e.ws.SystemAccount(context.Background(), e.mid, "", store.RoleRevenue)
		if err != nil {
			t.Fatal(err)
		}
		a, err := st.Account(context.Background(), rev)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.CreditsPosted - a.DebitsPosted; got != 20 {
			t.Errorf("revenue holds %d points, want 20", got)
		}
	})
}

// TestForms: the same calls by POST with a form or JSON body, by
// /?rest_route=, with the body winning over the query string.
func TestForms(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, "a-longer-secure-key")
		w := e.customer(7, "ann@example.com", 100)
		name := w.Name
		steps := []struct {
			method, target, ctype, body string
			want                        string
			balance                     int64
		}{
			{"POST", "/wp-json/cmmpexapi/v1/withdraw_wallet_points", "application/x-www-form-urlencoded",
				"wallet_id=" + name + "&points=5&key=a-longer-secure-key", ok, 95},
			{"POST", "/wp-json/cmmpexapi/v1/withdraw_wallet_points?points=90&key=wrong", "application/x-www-form-urlencoded",
				"wallet_id=" + strings.ToUpper(name) + "&points=5&key=a-longer-secure-key", ok, 90},
			{"POST", "/wp-json/cmmpexapi/v1/charge_wallet", "application/json",
				`{"email":"ANN@example.com","points":12,"key":"a-longer-secure-key"}`, ok, 102},
			{"POST", "/wp-json/cmmpexapi/v1/charge_wallet?key=a-longer-secure-key", "application/json",
				`{"wallet_id":` + fmt.Sprint(w.ID) + `,"points":"-2"}`, ok, 100},
			{"POST", "/wp-json/cmmpexapi/v1/charge_wallet", "multipart/form-data; boundary=XX",
				"--XX\r\nContent-Disposition: form-data; name=\"wallet_id\"\r\n\r\n" + name + "\r\n--XX\r\nContent-Disposition: form-data; name=\"points\"\r\n\r\n1\r\n--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na-longer-secure-key\r\n--XX--\r\n", ok, 101},
			{"GET", "/?rest_route=/cmmpexapi/v1/withdraw_wallet_points&wallet_id=" + name + "&points=1&key=a-longer-secure-key", "", "", ok, 100},
			{"POST", "/?rest_route=/cmmpexapi/v1/charge_wallet/", "application/x-www-form-urlencoded",
				"wallet_id=" + name + "&points=3&key=a-longer-secure-key", ok, 103},
			{"GET", "/index.php?rest_route=/CMMPEXAPI/v1/Wallet_Has_Enough_Points&wallet_id=" + name + "&points=103&key=a-longer-secure-key", "", "", ok, 103},
			{"GET", "/wp-json/cmmpexapi/v1/wallet_has_enough_points/?wallet_id=" + name + "&points=104&key=a-longer-secure-key", "", "", failed(cmmp.MsgNotEnough), 103},
			// wallet_id wins over email.
			{"GET", "/wp-json/cmmpexapi/v1/withdraw_wallet_points?wallet_id=" + name + "&email=nobody@example.com&points=3&key=a-longer-secure-key", "", "", ok, 100},
		}
		for i, s := range steps {
			code, hd, body := e.do(s.method, s.target, s.ctype, s.body)
			if code != 200 || body != s.want || hd.Get("Content-Type") != "application/json; charset=UTF-8" {
				t.Errorf("step %d %s %s: %d %q %s, want %s", i, s.method, s.target, code, hd.Get("Content-Type"), body, s.want)
			}
			if got := e.balance(w); got != s.balance {
				t.Errorf("step %d: balance %d, want %d", i, got, s.balance)
			}
		}
	})
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, storeForOne(t), "a-longer-secure-key")
	noRoute := `{"code":"rest_no_route","message":"No route was found matching the URL and request method.","data":{"status":404}}`
	for _, tc := range []struct{ method, target string }{
		{"GET", "/wp-json/cmmpexapi/v1/nope?key=a-longer-secure-key"},
		{"GET", "/wp-json/cmmpexapi/v1/"},
		{"GET", "/wp-json/cmmpexapi/v2/charge_wallet"},
		{"GET", "/wp-json/wp/v2/posts"},
		{"GET", "/wp-json/"},
		{"PUT", "/wp-json/cmmpexapi/v1/charge_wallet?key=a-longer-secure-key"},
		{"DELETE", "/wp-json/cmmpexapi/v1/wallet_has_enough_points"},
		{"GET", "/?rest_route=/cmmpexapi/v1/nope"},
		{"GET", "/?rest_route="},
		{"PATCH", "/?rest_route=/cmmpexapi/v1/charge_wallet"},
	} {
		code, hd, body := e.do(tc.method, tc.target, "", "")
		if code != 404 || body != noRoute || hd.Get("Content-Type") != "application/json; charset=UTF-8" {
			t.Errorf("%s %s: %d %s", tc.method, tc.target, code, body)
		}
	}
	// The hook only takes "/" with rest_route: the rest of the server is as
	// before.
	if code, _, body := e.do("GET", "/", "", ""); code != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("GET /: %d %s", code, body)
	}
	if code, _, body := e.do("POST", "/?other=1", "", ""); code != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("POST /?other=1: %d %s", code, body)
	}
	if code, _, body := e.do("GET", "/elsewhere?rest_route=/cmmpexapi/v1/charge_wallet", "", ""); code != 200 || body != "elsewhere" {
		t.Errorf("another surface with rest_route: %d %s", code, body)
	}
	// WordPress answers an unreadable JSON body with its own error.
	code, _, body := e.do("POST", "/wp-json/cmmpexapi/v1/charge_wallet", "application/json", `{"points":`)
	if code != 400 || body != `{"code":"rest_invalid_json","message":"Invalid JSON body passed.","data":{"status":400}}` {
		t.Errorf("invalid JSON: %d %s", code, body)
	}
}

// storeForOne is SQLite, for tests that are about the HTTP surface only.
func storeForOne(t *testing.T) store.Store { return sqlite.OpenTest(t) }

func TestErrors(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, "a-longer-secure-key")
		ctx := context.Background()
		w := e.customer(1, "ann@example.com", 50)
		inactive := e.customer(2, "bob@example.com", 50)
		if _, err := e.ws.SetActive(ctx, e.mid, inactive.ID, false); err != nil {
			t.Fatal(err)
		}
		nowallet, err := e.ws.CreateCustomer(ctx, e.mid, wallet.CustomerParams{ID: 3, Email: "cy@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		_ = nowallet
		// A wallet of another asset is not a points wallet.
		if _, err := e.ws.CreateCustomer(ctx, e.mid, wallet.CustomerParams{ID: 4, Wallets: []string{"EUR"}}); err != nil {
			t.Fatal(err)
		}
		eur, err := e.ws.CustomerWallet(ctx, e.mid, 4, "EUR")
		if err != nil {
			t.Fatal(err)
		}
		const k = "&key=a-longer-secure-key"
		ref := "wallet_id=" + w.Name
		type tc struct {
			name, query, want string
		}
		common := []tc{
			{"missing key", ref + "&points=1", cmmp.MsgMissingKey},
			{"empty key", ref + "&points=1&key=", cmmp.MsgMissingKey},
			{"wrong key", ref + "&points=1&key=a-longer-secure-kez", cmmp.MsgWrongKey},
			{"wrong key, case", ref + "&points=1&key=A-LONGER-SECURE-KEY", cmmp.MsgWrongKey},
			{"missing wallet and email", "points=1" + k, cmmp.MsgMissingArgs},
			{"empty wallet and email", "wallet_id=&email=&points=1" + k, cmmp.MsgMissingArgs},
			{"missing points", ref + k, cmmp.MsgMissingArgs},
			{"empty points", ref + "&points=" + k, cmmp.MsgMissingArgs},
			{"blank points", ref + "&points=%20%20" + k, cmmp.MsgMissingArgs},
			{"text points", ref + "&points=ten" + k, cmmp.MsgPointsNaN},
			{"1e309", ref + "&points=1e309" + k, cmmp.MsgPointsNaN},
			{"NaN", ref + "&points=NaN" + k, cmmp.MsgPointsNaN},
			{"Inf", ref + "&points=-Inf" + k, cmmp.MsgPointsNaN},
			{"hex", ref + "&points=0x10" + k, cmmp.MsgPointsNaN},
			{"comma", ref + "&points=1,5" + k, cmmp.MsgPointsNaN},
			{"huge", ref + "&points=99999999999" + k, "Points are out of range: at most 9999999999"},
			{"very huge", ref + "&points=" + strings.Repeat("9", 400) + k, "Points are out of range: at most 9999999999"},
			{"rounds to out of range", ref + "&points=9999999999.5" + k, "Points are out of range: at most 9999999999"},
			{"zero", ref + "&points=0" + k, ""},
			{"rounds to zero", ref + "&points=0.4" + k, ""},
			{"unknown wallet id", "wallet_id=999999&points=1" + k, cmmp.MsgNoWallet},
			{"unknown wallet name", "wallet_id=0123456789abcdef0123456789abcdef&points=1" + k, cmmp.MsgNoWallet},
			{"not a wallet name", "wallet_id=john&points=1" + k, cmmp.MsgNoWallet},
			{"negative id", "wallet_id=-1&points=1" + k, cmmp.MsgNoWallet},
			{"not a points wallet", fmt.Sprintf("wallet_id=%d&points=1", eur.ID) + k, cmmp.MsgNoWallet},
			{"unknown email", "email=nobody@example.com&points=1" + k, cmmp.MsgNoUser},
			{"malformed email", "email=nobody&points=1" + k, cmmp.MsgNoUser},
			{"customer without points wallet", "email=cy@example.com&points=1" + k, cmmp.MsgNoWallet},
			{"inactive", "wallet_id=" + inactive.Name + "&points=1" + k, cmmp.MsgInactive},
		}
		for _, action := range []string{"wallet_has_enough_points", "withdraw_wallet_points", "charge_wallet", "withdraw_wallet_points_external"} {
			cases := append([]tc(nil), common...)
			zero := cmmp.MsgPointsPos
			if action == "charge_wallet" {
				zero = cmmp.MsgPointsZero
			} else {
				cases = append(cases,
					tc{"negative", ref + "&points=-5" + k, cmmp.MsgPointsPos},
					tc{"too many", ref + "&points=51" + k, cmmp.MsgNotEnough})
			}
			if action == "charge_wallet" {
				cases = append(cases, tc{"burn too many", ref + "&points=-51" + k, cmmp.MsgNotEnough})
			}
			for _, c := range cases {
				want := c.want
				if want == "" {
					want = zero
				}
				before, transfers := e.balance(w), e.transfers()
				for _, method := range []string{"GET", "POST"} {
					target := "/wp-json/cmmpexapi/v1/" + action + "?" + c.query
					code, _, body := e.do(method, target, "", "")
					if code != 200 || body != failed(want) {
						t.Errorf("%s %s (%s): %d %s, want %s", method, action, c.name, code, body, failed(want))
					}
				}
				if e.balance(w) != before || e.balance(inactive) != 50 || e.transfers() != transfers {
					t.Errorf("%s (%s) changed something", action, c.name)
				}
			}
		}
		// Gateway closed: even the right key is refused, and nothing moves.
		if _, err := e.ms.SetOpen(ctx, e.mid, merchant.CMMP, false); err != nil {
			t.Fatal(err)
		}
		before := e.transfers()
		for _, action := range []string{"wallet_has_enough_points", "withdraw_wallet_points", "charge_wallet", "get_wallets", "get_wallet_by_name", "get_wallet", "withdraw_wallet_points_external"} {
			if got := e.get("/wp-json/cmmpexapi/v1/" + action + "?" + ref + "&email=ann@example.com&wallet_name=" + w.Name + "&points=1" + k); got != failed(cmmp.MsgClosed) {
				t.Errorf("closed gateway, %s: %s", action, got)
			}
		}
		if e.balance(w) != 50 || e.transfers() != before {
			t.Errorf("a closed gateway changed something")
		}
	})
}

// TestDecimals: whole points round half up (or half down); decimal points
// are exact to two places.
func TestDecimals(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		e := newEnv(t, st, "a-longer-secure-key")
		w := e.customer(1, "", 0)
		const k = "&key=a-longer-secure-key"
		charge := func(points string) string {
			return e.get("/wp-json/cmmpexapi/v1/charge_wallet?wallet_id=" + w.Name + "&points=" + url.QueryEscape(points) + k)
		}
		for _, s := range []struct {
			points  string
			balance int64
		}{{"10.5", 11}, {"-0.5", 10}, {"2.4999", 12}, {"2.5000001", 15}, {"+1", 16}, {" 4 ", 20}, {"-10.5", 9}, {"1.", 10}, {".6", 11}} {
			if got := charge(s.points); got != ok {
				t.Errorf("charge %q: %s", s.points, got)
			}
			if got := e.balance(w); got != s.balance {
				t.Errorf("after charge %q: %d, want %d", s.points, got, s.balance)
			}
		}
		if _, err := e.ms.UpdateSettings(ctx, e.mid, merchant.CMMP, []byte(`{"rounding":"half_down"}`)); err != nil {
			t.Fatal(err)
		}
		for _, s := range []struct {
			points  string
			balance int64
		}{{"10.5", 21}, {"-0.5", 21}, {"-1.5", 20}, {"0.51", 21}} {
			got := charge(s.points)
			if s.points == "-0.5" {
				if got != failed(cmmp.MsgPointsZero) {
					t.Errorf("charge -0.5 half down: %s", got)
				}
			} else if got != ok {
				t.Errorf("charge %q: %s", s.points, got)
			}
			if got := e.balance(w); got != s.balance {
				t.Errorf("half down, after charge %q: %d, want %d", s.points, got, s.balance)
			}
		}

		// Another merchant with decimal points.
		c, err := e.ms.Create(ctx, merchant.CreateParams{Name: "decimal site"})
		if err != nil {
			t.Fatal(err)
		}
		mid := c.Merchant.ID
		if _, err := e.ws.DefinePoints(ctx, mid, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ms.SetKey(ctx, mid, merchant.CMMP, "", "decimal-site-key", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ms.SetOpen(ctx, mid, merchant.CMMP, true); err != nil {
			t.Fatal(err)
		}
		res, err := e.ws.CreateCustomer(ctx, mid, wallet.CustomerParams{ID: 1, Wallets: []string{""}})
		if err != nil {
			t.Fatal(err)
		}
		dw := res.Wallets[0]
		dcall := func(action, points string) string {
			return e.get("/wp-json/cmmpexapi/v1/" + action + "?wallet_id=" + dw.Name + "&points=" + url.QueryEscape(points) + "&key=decimal-site-key")
		}
		for _, s := range []struct {
			action, points, want string
			balance              int64
		}{
			{"charge_wallet", "12.5", ok, 1250},
			{"charge_wallet", "0.05", ok, 1255},
			{"charge_wallet", "1.500", ok, 1405},
			{"charge_wallet", "1.555", failed("Points can have at most 2 decimals"), 1405},
			{"charge_wallet", "0.001", failed("Points can have at most 2 decimals"), 1405},
			{"charge_wallet", "10000000000", failed("Points are out of range: at most 9999999999.99"), 1405},
			{"withdraw_wallet_points", "14.06", failed(cmmp.MsgNotEnough), 1405},
			{"withdraw_wallet_points", "4.05", ok, 1000},
			{"wallet_has_enough_points", "10.00", ok, 1000},
			{"wallet_has_enough_points", "10.01", failed(cmmp.MsgNotEnough), 1000},
			{"charge_wallet", "-10", ok, 0},
		} {
			if got := dcall(s.action, s.points); got != s.want {
				t.Errorf("%s %q: %s, want %s", s.action, s.points, got, s.want)
			}
			b, err := e.ws.Balance(ctx, mid, dw.ID)
			if err != nil {
				t.Fatal(err)
			}
			if b.Posted != s.balance {
				t.Errorf("after %s %q: %d, want %d", s.action, s.points, b.Posted, s.balance)
			}
		}
		// One merchant's key never reaches another's wallets.
		if got := e.get("/wp-json/cmmpexapi/v1/charge_wallet?wallet_id=" + dw.Name + "&points=1" + k); got != failed(cmmp.MsgNoWallet) {
			t.Errorf("another merchant's wallet: %s", got)
		}
	})
}

// TestConcurrentWithdrawals: 200 withdrawals of 1 point at once against a
// wallet of 50 points: exactly 50 succeed.
func TestConcurrentWithdrawals(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, "a-longer-secure-key")
		w := e.customer(1, "ann@example.com", 50)
		var wg sync.WaitGroup
		var mu sync.Mutex
		answers := map[string]int{}
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				target := "/wp-json/cmmpexapi/v1/withdraw_wallet_points?wallet_id=" + w.Name + "&points=1&key=a-longer-secure-key"
				if i%2 == 1 {
					target = "/wp-json/cmmpexapi/v1/withdraw_wallet_points?email=ann@example.com&points=1&key=a-longer-secure-key"
				}
				_, _, body := e.do("POST", target, "", "")
				mu.Lock()
				answers[body]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if answers[ok] != 50 || answers[failed(cmmp.MsgNotEnough)] != 150 || len(answers) != 2 {
			t.Errorf("answers: %v", answers)
		}
		if got := e.balance(w); got != 0 {
			t.Errorf("balance %d, want 0", got)
		}
		rep, err := ledger.Verify(context.Background(), st)
		if err != nil || !rep.OK() {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}

// TestExternalWalletCalls: the four calls the plugin's external-wallet
// client makes, answered as its main site would.
func TestExternalWalletCalls(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		e := newEnv(t, st, "a-longer-secure-key")
		const k = "key=a-longer-secure-key"
		if got := e.get("/wp-json/cmmpexapi/v1/get_wallets?" + k); got != ok {
			t.Errorf("no wallets: %s", got)
		}
		var ws []store.Wallet
		for i := int64(1); i <= 7; i++ {
			email := fmt.Sprintf("user%d@example.com", i)
			if i == 5 {
				email = `odd"<&>@example.com`
			}
			if i == 6 {
				email = ""
			}
			ws = append(ws, e.customer(i, email, i*10))
		}
		if _, err := e.ws.SetActive(ctx, e.mid, ws[2].ID, false); err != nil {
			t.Fatal(err)
		}
		// A wallet of another asset is left out.
		if _, _, err := e.ws.CreateWallet(ctx, e.mid, 1, "EUR"); err != nil {
			t.Fatal(err)
		}
		body := e.get("/wp-json/cmmpexapi/v1/get_wallets?" + k)
		var list struct {
			Success bool                         `json:"success"`
			Message []map[string]json.RawMessage `json:"message"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil || !list.Success || len(list.Message) != 7 {
			t.Fatalf("get_wallets: %v %s", err, body)
		}
		for i, o := range list.Message {
			want := map[string]string{
				"wallet_id": fmt.Sprint(ws[i].ID), "user_id": fmt.Sprint(i + 1), "wallet_name": ws[i].Name,
				"points": fmt.Sprintf("%d.00", (i+1)*10), "status": "1", "user_email": fmt.Sprintf("user%d@example.com", i+1),
			}
			if i == 2 {
				want["status"] = "0"
			}
			if i == 4 {
				want["user_email"] = `odd"<&>@example.com`
			}
			if i == 5 {
				want["user_email"] = ""
			}
			if len(o) != 6 {
				t.Errorf("wallet %d has keys %v", i, o)
			}
			for key, v := range want {
				var s string
				if err := json.Unmarshal(o[key], &s); err != nil || s != v {
					t.Errorf("wallet %d: %s = %s, want the string %q", i, key, o[key], v)
				}
			}
		}
		if !strings.HasPrefix(body, `{"success":true,"message":[{"wallet_id":"`+fmt.Sprint(ws[0].ID)+`","user_id":"1","wallet_name":"`) {
			t.Errorf("key order: %.120s", body)
		}
		one := fmt.Sprintf(`{"success":true,"message":{"wallet_id":"%d","user_id":"2","wallet_name":"%s","points":"20.00","status":"1","user_email":"user2@example.com"}}`, ws[1].ID, ws[1].Name)
		if got := e.get("/wp-json/cmmpexapi/v1/get_wallet_by_name?wallet_name=" + ws[1].Name + "&" + k); got != one {
			t.Errorf("get_wallet_by_name:\n got %s\nwant %s", got, one)
		}
		if got := e.get("/wp-json/cmmpexapi/v1/get_wallet?email=USER2@example.com&" + k); got != one {
			t.Errorf("get_wallet:\n got %s\nwant %s", got, one)
		}
		for q, want := range map[string]string{
			"get_wallet_by_name?wallet_name=0123456789abcdef0123456789abcdef": cmmp.MsgNoWallet,
			"get_wallet_by_name?wallet_name=":                                 cmmp.MsgMissingName,
			"get_wallet?email=nobody@example.com":                             cmmp.MsgNoUser,
			"get_wallet?email=":                                               cmmp.MsgMissingEmail,
		} {
			if got := e.get("/wp-json/cmmpexapi/v1/" + q + "&" + k); got != failed(want) {
				t.Errorf("%s: %s", q, got)
			}
		}
		// The plugin's client withdraws by wallet name, with a type.
		if got := e.get("/wp-json/cmmpexapi/v1/withdraw_wallet_points_external?" + k + "&wallet_id=" + ws[1].Name + "&type=1&points=5"); got != ok {
			t.Errorf("withdraw_wallet_points_external: %s", got)
		}
		if got := e.balance(ws[1]); got != 15 {
			t.Errorf("after the external withdrawal: %d", got)
		}
	})
}

// TestPanicAnswer: a failure nobody anticipated is answered in the
// dialect's format, not as a plain 500.
func TestPanicAnswer(t *testing.T) {
	st := storeForOne(t)
	sealer, _ := seal.New(seal.NewKey())
	ms := merchant.New(st, sealer, merchant.Options{})
	c, err := ms.Create(context.Background(), merchant.CreateParams{Name: "broken"})
	if err != nil {
		t.Fatal(err)
	}
	ms.SetOpen(context.Background(), c.Merchant.ID, merchant.CMMP, true)
	key := c.Keys[0].Secret.Reveal()
	h := cmmp.NewHandler(cmmp.Deps{Merchants: ms}) // no wallets: the handler panics
	srv := httptest.NewServer(server.New(server.Options{Surfaces: []server.Surface{{Name: "cmmp", Pattern: cmmp.Prefix, Handler: h, OnPanic: cmmp.OnPanic}}}).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/wp-json/cmmpexapi/v1/charge_wallet?wallet_id=1&points=1&key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != failed(cmmp.MsgInternal) {
		t.Errorf("panic: %d %s", resp.StatusCode, b)
	}
	if c.Keys[0].Dialect != merchant.CMMP {
		t.Fatalf("first key is %s", c.Keys[0].Dialect)
	}
}
