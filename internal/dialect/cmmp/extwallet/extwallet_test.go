package extwallet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/dialect/cmmp"
	"github.com/coffer-pay/coffer/internal/dialect/cmmp/extwallet"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/server"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// site is one Coffer server: the CMMP dialect and the native API over its
// own database, served by the real server.
type site struct {
	t      *testing.T
	st     store.Store
	eng    *ledger.Engine
	ms     *merchant.Service
	ws     *wallet.Service
	mid    int64
	key    string // the merchant's CMMP secure key
	admin  string // an admin API key
	srv    *httptest.Server
	mirror *extwallet.Mirror // set on a client site
}

// newSite starts a site whose merchant has the CMMP key key. With main
// set, the merchant uses the main site's wallets.
func newSite(t *testing.T, st store.Store, key string, main *site) *site {
	t.Helper()
	ctx := context.Background()
	s := &site{t: t, st: st, key: key}
	s.eng = ledger.New(st, ledger.Options{ExpiryInterval: -1})
	sealer, err := seal.New(seal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	s.ms = merchant.New(st, sealer, merchant.Options{})
	s.ws = wallet.New(s.eng, wallet.Options{})
	c, err := s.ms.Create(ctx, merchant.CreateParams{Name: "site"})
	if err != nil {
		t.Fatal(err)
	}
	s.mid = c.Merchant.ID
	if _, err := s.ms.SetKey(ctx, s.mid, merchant.CMMP, "", config.Secret(key), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ms.SetOpen(ctx, s.mid, merchant.CMMP, true); err != nil {
		t.Fatal(err)
	}
	token, row, err := apikey.Generate(apikey.RoleAdmin, s.mid, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InsertAPIKey(ctx, &row); err != nil {
		t.Fatal(err)
	}
	s.admin = token
	deps := cmmp.Deps{Merchants: s.ms, Wallets: s.ws, RequestID: server.RequestID, PageSize: 2}
	var ext api.ExternalWallet
	if main != nil {
		c, err := extwallet.New(main.srv.URL, main.key, extwallet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(ctx); err != nil {
			t.Fatalf("connection check: %v", err)
		}
		s.mirror = extwallet.NewMirror(c, s.ws, s.ms, s.mid, extwallet.MirrorOptions{Workers: 3})
		deps.External, ext = s.mirror, s.mirror
		t.Cleanup(s.mirror.Close)
	}
	srv := server.New(server.Options{Surfaces: []server.Surface{
		{Name: "native", Pattern: api.Prefix, Handler: api.New(api.Config{Engine: s.eng, Merchants: s.ms, Wallets: s.ws, ExternalWallet: ext})},
		{Name: "cmmp", Pattern: cmmp.Prefix, QueryParam: cmmp.RouteParam, Handler: cmmp.NewHandler(deps), OnPanic: cmmp.OnPanic},
	}})
	s.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		rep, err := ledger.Verify(context.Background(), st)
		if err != nil || !rep.OK() {
			t.Errorf("ledger.Verify: %v %v", err, rep.Problems)
		}
	})
	t.Cleanup(func() { s.eng.Close(context.Background()) })
	t.Cleanup(s.srv.Close)
	return s
}

// cmmp calls one of the dialect's actions with the site's key.
func (s *site) cmmp(action string, params ...string) string {
	s.t.Helper()
	q := url.Values{"key": {s.key}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	resp, err := http.Get(s.srv.URL + "/wp-json/cmmpexapi/v1/" + action + "?" + q.Encode())
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// customer makes a customer with a points wallet holding points.
func (s *site) customer(id int64, email string, points int64) store.Wallet {
	s.t.Helper()
	ctx := context.Background()
	res, err := s.ws.CreateCustomer(ctx, s.mid, wallet.CustomerParams{ID: id, Email: email, Wallets: []string{""}})
	if err != nil {
		s.t.Fatal(err)
	}
	if points > 0 {
		if _, err := s.ws.Charge(ctx, s.mid, res.Wallets[0].ID, points, fmt.Sprintf("setup-%d", id)); err != nil {
			s.t.Fatal(err)
		}
	}
	return res.Wallets[0]
}

// byName is the site's wallet with that name and its balance (-1 when the
// site has no such wallet).
func (s *site) byName(name string) (store.Wallet, int64) {
	s.t.Helper()
	w, err := s.ws.WalletByName(context.Background(), s.mid, name)
	if errors.Is(err, wallet.ErrWalletNotFound) {
		return w, -1
	}
	if err != nil {
		s.t.Fatal(err)
	}
	b, err := s.ws.WalletBalance(context.Background(), w)
	if err != nil {
		s.t.Fatal(err)
	}
	return w, b.Posted
}

func (s *site) systemBalance(role string) int64 {
	s.t.Helper()
	id, err := s.ws.SystemAccount(context.Background(), s.mid, "", role)
	if err != nil {
		s.t.Fatal(err)
	}
	a, err := s.st.Account(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return a.CreditsPosted - a.DebitsPosted
}

const ok = `{"success":true,"message":[]}`

func failed(msg string) string {
	b, _ := json.Marshal(cmmp.Result{Message: []string{msg}})
	return string(b)
}

// secondStore is another database of the same engine as st.
func secondStore(t *testing.T) store.Store {
	if strings.HasSuffix(t.Name(), "/postgres") {
		return postgres.OpenTest(t)
	}
	return sqlite.OpenTest(t)
}

// refresh runs a refresh through the client site's native API, as
// `coffer wallet refresh` does, and returns its outcome.
func refresh(t *testing.T, s *site) client.ExternalWalletRefresh {
	t.Helper()
	ctx := context.Background()
	c := client.New(s.srv.URL, s.admin)
	st, err := c.StartExternalWalletRefresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for st.Running() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if st, err = c.ExternalWalletRefresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st.State != extwallet.StateDone {
		t.Fatalf("refresh: %+v", st)
	}
	return st
}

// TestTwoServers: one Coffer uses another's wallets. Withdrawals on the
// client land on the main site; points added on the main site reach the
// client at the next refresh (and at once for the wallet a call pulls).
func TestTwoServers(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		main := newSite(t, st, "main-site-secure-key", nil)
		var mw []store.Wallet
		for i := int64(1); i <= 5; i++ {
			mw = append(mw, main.customer(i, fmt.Sprintf("user%d@example.com", i), i*10))
		}
		if _, err := main.ws.SetActive(ctx, main.mid, mw[2].ID, false); err != nil {
			t.Fatal(err)
		}
		cl := newSite(t, secondStore(t), "client-site-secure-key", main)

		// Before a refresh the client has no wallets.
		if _, b := cl.byName(mw[0].Name); b != -1 {
			t.Fatalf("the client has a wallet before any refresh")
		}
		r := refresh(t, cl)
		if r.Wallets != 5 || r.Created != 5 || r.Failed != 0 || r.MainSite != main.srv.URL || r.MerchantID != cl.mid {
			t.Errorf("first refresh: %+v", r)
		}
		for i, w := range mw {
			lw, b := cl.byName(w.Name)
			if b != int64(i+1)*10 {
				t.Errorf("wallet %d mirrored with %d points, want %d", i, b, (i+1)*10)
			}
			wantStatus := store.WalletActive
			if i == 2 {
				wantStatus = store.WalletInactive
			}
			if lw.Status != wantStatus || lw.CustomerID != int64(i+1) {
				t.Errorf("wallet %d mirrored as %+v", i, lw)
			}
			c, err := cl.ws.Customer(ctx, cl.mid, int64(i+1))
			if err != nil || c.Email != fmt.Sprintf("user%d@example.com", i+1) {
				t.Errorf("customer %d: %+v %v", i+1, c, err)
			}
		}
		if got := cl.systemBalance(store.RoleMint); got != -150 {
			t.Errorf("client mint %d, want -150 (the points it mirrors)", got)
		}
		if r := refresh(t, cl); r.Unchanged != 5 || r.Created+r.Updated+r.Failed != 0 {
			t.Errorf("second refresh: %+v", r)
		}

		// A withdrawal on the client happens on the main site, by the
		// client's id, name or e-mail.
		local, _ := cl.byName(mw[1].Name)
		for _, ref := range [][2]string{{"wallet_id", fmt.Sprint(local.ID)}, {"wallet_id", mw[1].Name}, {"email", "user2@example.com"}} {
			if got := cl.cmmp("withdraw_wallet_points", ref[0], ref[1], "points", "5"); got != ok {
				t.Errorf("withdraw by %s: %s", ref[0], got)
			}
		}
		if _, b := main.byName(mw[1].Name); b != 5 {
			t.Errorf("main site wallet 2: %d, want 5", b)
		}
		if _, b := cl.byName(mw[1].Name); b != 5 {
			t.Errorf("client mirror of wallet 2: %d, want 5", b)
		}
		if got := main.systemBalance(store.RoleRevenue); got != 15 {
			t.Errorf("main revenue %d, want 15", got)
		}
		if got := cl.systemBalance(store.RoleRevenue); got != 15 {
			t.Errorf("client revenue %d, want 15", got)
		}
		// Refusals come from the main site, and change nothing.
		if got := cl.cmmp("withdraw_wallet_points", "wallet_id", mw[1].Name, "points", "6"); got != failed(cmmp.MsgNotEnough) {
			t.Errorf("withdraw too much: %s", got)
		}
		if got := cl.cmmp("withdraw_wallet_points", "wallet_id", mw[2].Name, "points", "1"); got != failed(cmmp.MsgInactive) {
			t.Errorf("withdraw from an inactive wallet: %s", got)
		}
		if got := cl.cmmp("wallet_has_enough_points", "email", "nobody@example.com", "points", "1"); got != failed(cmmp.MsgNoUser) {
			t.Errorf("unknown e-mail: %s", got)
		}
		if got := cl.cmmp("wallet_has_enough_points", "wallet_id", "999999", "points", "1"); got != failed(cmmp.MsgNoWallet) {
			t.Errorf("unknown wallet id: %s", got)
		}
		if got := cl.cmmp("charge_wallet", "wallet_id", mw[1].Name, "points", "1"); got != failed(cmmp.MsgChargeOnMain) {
			t.Errorf("charge on the client: %s", got)
		}
		if _, b := main.byName(mw[1].Name); b != 5 {
			t.Errorf("refusals changed the main site: %d", b)
		}

		// Points added on the main site: the client sees them after a
		// refresh…
		if got := main.cmmp("charge_wallet", "wallet_id", mw[0].Name, "points", "50"); got != ok {
			t.Fatalf("charge on the main site: %s", got)
		}
		if _, b := cl.byName(mw[0].Name); b != 10 {
			t.Errorf("the client saw the charge before a refresh: %d", b)
		}
		if r := refresh(t, cl); r.Updated != 1 || r.Unchanged != 4 {
			t.Errorf("refresh after a charge: %+v", r)
		}
		if _, b := cl.byName(mw[0].Name); b != 60 {
			t.Errorf("after the refresh the client has %d, want 60", b)
		}
		// …and at once for a wallet a check pulls.
		if got := main.cmmp("charge_wallet", "wallet_id", mw[3].Name, "points", "5"); got != ok {
			t.Fatal(got)
		}
		if got := cl.cmmp("wallet_has_enough_points", "email", "user4@example.com", "points", "45"); got != ok {
			t.Errorf("has enough after a charge on the main site: %s", got)
		}
		if _, b := cl.byName(mw[3].Name); b != 45 {
			t.Errorf("mirror after the check: %d, want 45", b)
		}
		// A wallet created on the main site after the refresh is pulled by
		// the first call that names it.
		nw := main.customer(6, "user6@example.com", 7)
		if got := cl.cmmp("withdraw_wallet_points", "email", "user6@example.com", "points", "2"); got != ok {
			t.Errorf("withdraw from a new main-site wallet: %s", got)
		}
		if _, b := main.byName(nw.Name); b != 5 {
			t.Errorf("main site: %d, want 5", b)
		}
		if lw, b := cl.byName(nw.Name); b != 5 || lw.CustomerID != 6 {
			t.Errorf("client mirror: %+v %d", lw, b)
		}
		// The client's own get_wallets shows its mirror.
		var list struct {
			Message []map[string]string `json:"message"`
		}
		if err := json.Unmarshal([]byte(cl.cmmp("get_wallets")), &list); err != nil || len(list.Message) != 6 {
			t.Errorf("client get_wallets: %v %v", err, list)
		}
		// The main site's wallets are unchanged by anything but the
		// client's withdrawals.
		for i, want := range []int64{60, 5, 30, 45, 50, 5} {
			name := nw.Name
			if i < 5 {
				name = mw[i].Name
			}
			if _, b := main.byName(name); b != want {
				t.Errorf("main wallet %d: %d, want %d", i+1, b, want)
			}
			if _, b := cl.byName(name); b != want {
				t.Errorf("client wallet %d: %d, want %d", i+1, b, want)
			}
		}
		// Refresh in process, then after Close.
		if st, err := cl.mirror.Refresh(ctx); err != nil || st.State != extwallet.StateDone || st.Unchanged != 6 {
			t.Errorf("Refresh: %+v %v", st, err)
		}
		cl.mirror.Close()
		if _, err := cl.mirror.Refresh(ctx); !errors.Is(err, extwallet.ErrClosed) {
			t.Errorf("Refresh after Close: %v", err)
		}
		if st := cl.mirror.Start(); st.State != extwallet.StateDone {
			t.Errorf("Start after Close: %+v", st)
		}
	})
}

// TestConnectionCheck: a wrong key, a closed gateway, an unreachable main
// site or a site without the API fail the check, each saying why.
func TestConnectionCheck(t *testing.T) {
	st := sqlite.OpenTest(t)
	main := newSite(t, st, "main-site-secure-key", nil)
	check := func(u, key string) error {
		c, err := extwallet.New(u, key, extwallet.Options{Timeout: 2 * time.Second})
		if err != nil {
			return err
		}
		return c.Check(context.Background())
	}
	if err := check(main.srv.URL+"/", "main-site-secure-key"); err != nil {
		t.Errorf("good key: %v", err)
	}
	err := check(main.srv.URL, "main-site-secure-kez")
	var re *extwallet.RemoteError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), cmmp.MsgWrongKey) {
		t.Errorf("wrong key: %v", err)
	}
	if strings.Contains(fmt.Sprint(err), "main-site-secure-kez") {
		t.Errorf("the error shows the key: %v", err)
	}
	// A server that is not a CMMP site at all.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if err := check(plain.URL, "main-site-secure-key"); !errors.Is(err, extwallet.ErrUnreachable) {
		t.Errorf("not a CMMP site: %v", err)
	}
	// Nobody listening.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	if err := check(deadURL, "main-site-secure-key"); !errors.Is(err, extwallet.ErrUnreachable) || strings.Contains(err.Error(), "main-site-secure-key") {
		t.Errorf("unreachable: %v", err)
	}
	// Nothing at that directory.
	if err := check(main.srv.URL+"/blog", "main-site-secure-key"); !errors.As(err, &re) || re.Status != 404 {
		t.Errorf("wrong directory: %v", err)
	}
	// A WordPress site without the add-on answers rest_no_route.
	wp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		io.WriteString(w, `{"code":"rest_no_route","message":"No route was found matching the URL and request method.","data":{"status":404}}`)
	}))
	defer wp.Close()
	if err := check(wp.URL, "main-site-secure-key"); !errors.As(err, &re) || re.Status != 404 || !strings.Contains(err.Error(), "rest_no_route") {
		t.Errorf("no add-on: %v", err)
	}
	if _, err := main.ms.SetOpen(context.Background(), main.mid, merchant.CMMP, false); err != nil {
		t.Fatal(err)
	}
	if err := check(main.srv.URL, "main-site-secure-key"); !errors.As(err, &re) || !strings.Contains(err.Error(), cmmp.MsgClosed) {
		t.Errorf("closed gateway: %v", err)
	}
	for _, bad := range []string{"", "ftp://x", "main.example.com", "http://", "http://h/?q=1", "http://u:p@h"} {
		if _, err := extwallet.New(bad, "k", extwallet.Options{}); !errors.Is(err, extwallet.ErrConfig) {
			t.Errorf("New(%q) = %v", bad, err)
		}
	}
	if _, err := extwallet.New("https://h", "", extwallet.Options{}); !errors.Is(err, extwallet.ErrConfig) {
		t.Errorf("New without a key = %v", err)
	}
}

// TestClientLimits: the client bounds what a main site may send and how
// long it may take, and reads what a WordPress main site sends (strings,
// numbers, a message before success).
func TestClientLimits(t *testing.T) {
	var current atomic.Pointer[http.HandlerFunc]
	setAnswer := func(f http.HandlerFunc) { current.Store(&f) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load())(w, r) }))
	defer srv.Close()
	c, err := extwallet.New(srv.URL, "k", extwallet.Options{Timeout: 300 * time.Millisecond, MaxBody: 1000, MaxListBody: 2000})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	setAnswer(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/wp-json/cmmpexapi/v1/get_wallet_by_name" || r.URL.Query().Get("key") != "k" || r.URL.Query().Get("wallet_name") != "n" {
			t.Errorf("request %s", r.URL)
		}
		io.WriteString(w, `{"success":true,"message":{"wallet_id":7,"user_id":"3","wallet_name":"n","points":12.5,"status":1,"user_email":null}}`)
	})
	w, err := c.WalletByName(ctx, "n")
	if err != nil || w != (extwallet.Wallet{WalletID: "7", UserID: "3", WalletName: "n", Points: "12.5", Status: "1"}) {
		t.Errorf("numbers from the main site: %+v %v", w, err)
	}
	setAnswer(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success":true,"message":"`+strings.Repeat("x", 2000)+`"}`)
	})
	if _, err := c.WalletByName(ctx, "n"); !errors.Is(err, extwallet.ErrUnreachable) {
		t.Errorf("answer over the limit: %v", err)
	}
	setAnswer(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second)
		io.WriteString(w, `{"success":true}`)
	})
	start := time.Now()
	if err := c.Withdraw(ctx, "n", "", "1"); !errors.Is(err, extwallet.ErrUnreachable) || time.Since(start) > 900*time.Millisecond {
		t.Errorf("slow main site: %v after %v", err, time.Since(start))
	}
	setAnswer(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("type") != "1" || r.URL.Query().Get("wallet_id") != "n" || r.URL.Query().Get("points") != "1.50" {
			t.Errorf("withdraw request %s", r.URL.RawQuery)
		}
		io.WriteString(w, `{"success":true}`)
	})
	if err := c.Withdraw(ctx, "n", "", "1.50"); err != nil {
		t.Errorf("withdraw: %v", err)
	}
	// get_wallets, message first, then a list too long.
	setAnswer(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"message":[{"wallet_name":"a","points":"1.00"},{"wallet_name":"b","points":"2"}],"success":"1"}`)
	})
	var names []string
	if err := c.Wallets(ctx, func(w extwallet.Wallet) error { names = append(names, w.WalletName+":"+w.Points); return nil }); err != nil || strings.Join(names, ",") != "a:1.00,b:2" {
		t.Errorf("wallets: %v %v", names, err)
	}
	setAnswer(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success":true,"message":[`)
		for i := range 100 {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"wallet_name":"w%d","points":"1.00"}`, i)
		}
		io.WriteString(w, `]}`)
	})
	n := 0
	if err := c.Wallets(ctx, func(extwallet.Wallet) error { n++; return nil }); !errors.Is(err, extwallet.ErrUnreachable) || n == 0 || n == 100 {
		t.Errorf("list over the limit: %d wallets, %v", n, err)
	}
	setAnswer(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success":false,"message":["Invalid secure key"]}`)
	})
	var re *extwallet.RemoteError
	if err := c.Check(ctx); !errors.As(err, &re) || re.Messages[0] != "Invalid secure key" {
		t.Errorf("refused: %v", err)
	}
	setAnswer(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `<html>`) })
	if err := c.Check(ctx); !errors.Is(err, extwallet.ErrUnreachable) {
		t.Errorf("HTML: %v", err)
	}
}
