package merchant_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
)

// fixture is a Service over a real store with a clock the test moves.
type fixture struct {
	t      testing.TB
	st     store.Store
	svc    *merchant.Service
	sealer *seal.Sealer
	now    *atomic.Int64
	logs   *bytes.Buffer
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newFixture(t testing.TB, st store.Store) *fixture {
	t.Helper()
	s, err := seal.New(seal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, sealer: s, now: &atomic.Int64{}, logs: &bytes.Buffer{}}
	f.now.Store(t0.UnixMicro())
	f.svc = f.service(s)
	return f
}

// service returns another Service on the same store and clock.
func (f *fixture) service(s *seal.Sealer) *merchant.Service {
	return merchant.New(f.st, s, merchant.Options{
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
		Now:    func() time.Time { return time.UnixMicro(f.now.Load()).UTC() },
	})
}

func (f *fixture) advance(d time.Duration) { f.now.Add(d.Microseconds()) }

func (f *fixture) create(name, username string) merchant.Created {
	f.t.Helper()
	c, err := f.svc.Create(context.Background(), merchant.CreateParams{Name: name, Username: username})
	if err != nil {
		f.t.Fatalf("Create(%s): %v", name, err)
	}
	return c
}

func keyOf(c merchant.Created, d merchant.Dialect) merchant.NewKey {
	for _, k := range c.Keys {
		if k.Dialect == d {
			return k
		}
	}
	return merchant.NewKey{}
}

func TestCreate(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.create("Acme Ltd", "acme")
		if c.Merchant.ID <= 1 || c.Merchant.Name != "Acme Ltd" {
			t.Errorf("merchant = %+v", c.Merchant)
		}
		if c.User == nil || c.User.Username != "acme" || c.User.Role != store.UserAdmin || c.User.MerchantID != c.Merchant.ID {
			t.Errorf("user = %+v", c.User)
		}
		if len(c.Keys) != len(merchant.Dialects()) {
			t.Fatalf("%d keys, want one per dialect", len(c.Keys))
		}
		for i, k := range c.Keys {
			sec := k.Secret.Reveal()
			if k.Dialect != merchant.Dialects()[i] || len(sec) != 40 || k.Hint != "…"+sec[36:] {
				t.Errorf("key %d = %s %q hint %q, want 40 hex characters", i, k.Dialect, sec, k.Hint)
			}
			if (k.KeyID != "") != (k.Dialect == merchant.WebTV) {
				t.Errorf("%s key id = %q", k.Dialect, k.KeyID)
			}
			g, err := f.svc.Gateway(ctx, c.Merchant.ID, k.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			if g.Open || len(g.Keys) != 1 || g.Keys[0].Hint != k.Hint || g.Keys[0].ExpiresAt != nil {
				t.Errorf("%s gateway = %+v, want closed with one current key", k.Dialect, g)
			}
		}
		// Every key works where it is presented.
		for _, d := range []merchant.Dialect{merchant.CMMP, merchant.MugglePay, merchant.Paykassma} {
			g, err := f.svc.Authenticate(ctx, d, keyOf(c, d).Secret.Reveal())
			if err != nil || g.MerchantID != c.Merchant.ID || g.Dialect != d {
				t.Errorf("Authenticate(%s) = %+v, %v", d, g, err)
			}
			// A key of one dialect is not a key of another.
			other := merchant.CMMP
			if d == merchant.CMMP {
				other = merchant.MugglePay
			}
			if _, err := f.svc.Authenticate(ctx, other, keyOf(c, d).Secret.Reveal()); !errors.Is(err, merchant.ErrUnknownKey) {
				t.Errorf("%s key accepted as %s: %v", d, other, err)
			}
		}
		wk := keyOf(c, merchant.WebTV)
		g, sec, err := f.svc.WebTVKey(ctx, wk.KeyID)
		if err != nil || g.MerchantID != c.Merchant.ID || sec.Reveal() != wk.Secret.Reveal() {
			t.Errorf("WebTVKey = %d, %v", g.MerchantID, err)
		}
		secs, err := f.svc.Secrets(ctx, c.Merchant.ID, merchant.MOR)
		if err != nil || len(secs) != 1 || secs[0].Reveal() != keyOf(c, merchant.MOR).Secret.Reveal() {
			t.Errorf("Secrets(mor) = %d secrets, %v", len(secs), err)
		}
		u, err := f.svc.UserByName(ctx, "acme")
		if err != nil || u.MerchantID != c.Merchant.ID {
			t.Errorf("UserByName = %+v, %v", u, err)
		}
		// Nothing secret reaches the log.
		for _, k := range c.Keys {
			if strings.Contains(f.logs.String(), k.Secret.Reveal()) {
				t.Errorf("the %s secret is in the log", k.Dialect)
			}
		}

		tests := []struct {
			name string
			p    merchant.CreateParams
			want error
		}{
			{"taken username", merchant.CreateParams{Name: "b", Username: "acme"}, merchant.ErrUsernameTaken},
			{"empty name", merchant.CreateParams{Name: ""}, merchant.ErrInvalidSettings},
			{"name with spaces around", merchant.CreateParams{Name: " x "}, merchant.ErrInvalidSettings},
			{"bad username", merchant.CreateParams{Name: "b", Username: "a b"}, merchant.ErrInvalidSettings},
		}
		for _, tt := range tests {
			_, err := f.svc.Create(ctx, tt.p)
			want := tt.want
			if want == merchant.ErrInvalidSettings {
				want = &invalidRequest
			}
			if !errors.Is(err, want) {
				t.Errorf("%s: Create = %v, want %v", tt.name, err, want)
			}
		}
	})
}

// invalidRequest matches every invalid_request error (errors.Is compares codes).
var invalidRequest = *mustLedgerErr("invalid_request")

func TestUsers(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		m := f.create("acme", "").Merchant.ID
		admin, err := f.svc.CreateUser(ctx, m, "boss", store.UserAdmin)
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.CreateUser(ctx, m, "res.1", "")
		if err != nil || res.Role != store.UserReseller {
			t.Fatalf("CreateUser(default role) = %+v, %v", res, err)
		}
		if _, err := f.svc.CreateUser(ctx, 1, "boss", store.UserReseller); !errors.Is(err, merchant.ErrUsernameTaken) {
			t.Errorf("username of another merchant = %v, want username_taken", err)
		}
		if _, err := f.svc.CreateUser(ctx, 999999, "ghost", ""); !errors.Is(err, merchant.ErrMerchantNotFound) {
			t.Errorf("user of an unknown merchant = %v", err)
		}
		if _, err := f.svc.CreateUser(ctx, m, "x", "owner"); !errors.Is(err, &invalidRequest) {
			t.Errorf("bad role = %v", err)
		}
		us, err := f.svc.Users(ctx, m)
		if err != nil || len(us) != 2 || us[0].Username != "boss" || us[1].Username != "res.1" {
			t.Errorf("Users = %+v, %v", us, err)
		}
		if _, err := f.svc.User(ctx, 1, res.ID); !errors.Is(err, merchant.ErrUserNotFound) {
			t.Errorf("User of another merchant = %v", err)
		}
		for _, tt := range []struct {
			u     merchant.User
			owner int64
			want  bool
		}{
			{admin, 0, true}, {admin, res.ID, true}, {res, res.ID, true}, {res, admin.ID, false}, {res, 0, false},
		} {
			if got := tt.u.Owns(tt.owner); got != tt.want {
				t.Errorf("%s.Owns(%d) = %v, want %v", tt.u.Username, tt.owner, got, tt.want)
			}
		}
		if _, err := f.svc.UserByName(ctx, "nobody"); !errors.Is(err, merchant.ErrUserNotFound) {
			t.Errorf("UserByName(nobody) = %v", err)
		}
	})
}

func TestGatewayOpenClose(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.create("acme", "")
		m, key := c.Merchant.ID, keyOf(c, merchant.CMMP).Secret.Reveal()
		steps := []struct {
			open bool
		}{{true}, {true}, {false}, {true}}
		for i, s := range steps {
			g, err := f.svc.SetOpen(ctx, m, merchant.CMMP, s.open)
			if err != nil || g.Open != s.open {
				t.Fatalf("step %d: SetOpen(%v) = %+v, %v", i, s.open, g, err)
			}
			got, err := f.svc.Authenticate(ctx, merchant.CMMP, key)
			if err != nil || got.Open != s.open {
				t.Errorf("step %d: Authenticate sees open %v, %v; want %v", i, got.Open, err, s.open)
			}
		}
		// Other dialects and merchants are untouched.
		if g, _ := f.svc.Gateway(ctx, m, merchant.MOR); g.Open {
			t.Error("opening cmmp opened mor")
		}
		if g, _ := f.svc.Gateway(ctx, 1, merchant.CMMP); g.Open {
			t.Error("opening merchant's cmmp opened merchant 1's")
		}
		if _, err := f.svc.SetOpen(ctx, m, "soap", true); !errors.Is(err, merchant.ErrDialectNotFound) {
			t.Errorf("SetOpen(unknown dialect) = %v", err)
		}
		if _, err := f.svc.SetOpen(ctx, 999999, merchant.CMMP, true); !errors.Is(err, merchant.ErrMerchantNotFound) {
			t.Errorf("SetOpen(unknown merchant) = %v", err)
		}
		gs, err := f.svc.Gateways(ctx, m)
		if err != nil || len(gs) != 5 {
			t.Fatalf("Gateways = %d, %v", len(gs), err)
		}
	})
}

func TestSettings(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		m := f.create("acme", "").Merchant.ID
		g, err := f.svc.Gateway(ctx, m, merchant.MOR)
		if err != nil {
			t.Fatal(err)
		}
		if want := (merchant.MORSettings{HashCheck: true}); fmt.Sprint(g.MOR) != fmt.Sprint(want) {
			t.Errorf("default MOR settings = %+v, want %+v", g.MOR, want)
		}
		if g, _ := f.svc.Gateway(ctx, m, merchant.WebTV); g.WebTV.SignatureMode != "hmac" || g.WebTV.ExpirationSeconds != 300 {
			t.Errorf("default webtv settings = %+v", g.WebTV)
		}
		tests := []struct {
			name    string
			dialect merchant.Dialect
			patch   string
			code    string // "" for success
			check   func(g merchant.Gateway) bool
		}{
			{"mor usernames", merchant.MOR, `{"usernames":["acme","res"]}`, "", func(g merchant.Gateway) bool {
				return g.MOR.HashCheck && g.MOR.Allows("res") && !g.MOR.Allows("other")
			}},
			{"mor partial keeps the rest", merchant.MOR, `{"allow_get":true,"confirmation":true}`, "", func(g merchant.Gateway) bool {
				return g.MOR.AllowGET && g.MOR.Confirmation && g.MOR.HashCheck && len(g.MOR.Usernames) == 2
			}},
			{"mor hash check off", merchant.MOR, `{"hash_check":false}`, "", func(g merchant.Gateway) bool { return !g.MOR.HashCheck }},
			{"webtv md5", merchant.WebTV, `{"signature_mode":"md5","expiration_seconds":60}`, "", func(g merchant.Gateway) bool {
				return g.WebTV.SignatureMode == "md5" && g.WebTV.ExpirationSeconds == 60
			}},
			{"cmmp rounding", merchant.CMMP, `{"rounding":"half_down"}`, "", func(g merchant.Gateway) bool { return g.CMMP.Rounding == "half_down" }},
			{"paykassma allow list", merchant.Paykassma, `{"ip_allow_list":["10.0.0.0/8","192.0.2.7"]}`, "", func(g merchant.Gateway) bool {
				return g.Paykassma.Allows(netip.MustParseAddr("10.1.2.3")) && g.Paykassma.Allows(netip.MustParseAddr("192.0.2.7")) &&
					!g.Paykassma.Allows(netip.MustParseAddr("192.0.2.8"))
			}},
			{"unknown field", merchant.MOR, `{"hash":true}`, "invalid_settings", nil},
			{"wrong type", merchant.MOR, `{"hash_check":"yes"}`, "invalid_settings", nil},
			{"not an object", merchant.MOR, `[1]`, "invalid_settings", nil},
			{"two objects", merchant.MOR, `{} {}`, "invalid_settings", nil},
			{"bad signature mode", merchant.WebTV, `{"signature_mode":"sha1"}`, "invalid_settings", nil},
			{"bad window", merchant.WebTV, `{"expiration_seconds":0}`, "invalid_settings", nil},
			{"bad rounding", merchant.CMMP, `{"rounding":"up"}`, "invalid_settings", nil},
			{"bad address", merchant.Paykassma, `{"ip_allow_list":["10.0.0.300"]}`, "invalid_settings", nil},
			{"bad username", merchant.MOR, `{"usernames":["a b"]}`, "invalid_settings", nil},
		}
		for _, tt := range tests {
			g, err := f.svc.UpdateSettings(ctx, m, tt.dialect, []byte(tt.patch))
			if tt.code != "" {
				if got := codeOf(err); got != tt.code {
					t.Errorf("%s: error %v, want %s", tt.name, err, tt.code)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			// Read back from the store: what was saved is what is answered.
			again, err := f.svc.Gateway(ctx, m, tt.dialect)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(g) || !tt.check(again) {
				t.Errorf("%s: settings = %+v (read back %+v)", tt.name, g.Settings(), again.Settings())
			}
		}
		// A failed update changed nothing.
		if g, _ := f.svc.Gateway(ctx, m, merchant.WebTV); g.WebTV.SignatureMode != "md5" {
			t.Errorf("webtv settings after failed updates = %+v", g.WebTV)
		}
		// Settings survive open/close, and the stored JSON holds no secret.
		if _, err := f.svc.SetOpen(ctx, m, merchant.MOR, true); err != nil {
			t.Fatal(err)
		}
		row, err := st.Gateway(ctx, m, "mor")
		if err != nil {
			t.Fatal(err)
		}
		var stored map[string]any
		if err := json.Unmarshal(row.Settings, &stored); err != nil || stored["hash_check"] != false || stored["allow_get"] != true {
			t.Errorf("stored settings = %s, %v", row.Settings, err)
		}
	})
}

func TestRotation(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.create("acme", "")
		m := c.Merchant.ID

		// Without grace the old key stops at once, for every kind of key.
		old := keyOf(c, merchant.CMMP).Secret.Reveal()
		k, err := f.svc.GenerateKey(ctx, m, merchant.CMMP, 0)
		if err != nil || k.PreviousUntil != nil || k.Secret.Reveal() == old {
			t.Fatalf("GenerateKey = %+v, %v", k, err)
		}
		if _, err := f.svc.Authenticate(ctx, merchant.CMMP, old); !errors.Is(err, merchant.ErrUnknownKey) {
			t.Errorf("old cmmp key after rotation: %v, want unknown_key", err)
		}
		if g, err := f.svc.Authenticate(ctx, merchant.CMMP, k.Secret.Reveal()); err != nil || g.MerchantID != m {
			t.Errorf("new cmmp key: %v", err)
		}
		oldWeb := keyOf(c, merchant.WebTV)
		newWeb, err := f.svc.GenerateKey(ctx, m, merchant.WebTV, 0)
		if err != nil || newWeb.KeyID == oldWeb.KeyID {
			t.Fatalf("GenerateKey(webtv) = %+v, %v", newWeb, err)
		}
		if _, _, err := f.svc.WebTVKey(ctx, oldWeb.KeyID); !errors.Is(err, merchant.ErrUnknownKey) {
			t.Errorf("old webtv key id after rotation: %v", err)
		}
		newMOR, err := f.svc.GenerateKey(ctx, m, merchant.MOR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if secs, _ := f.svc.Secrets(ctx, m, merchant.MOR); len(secs) != 1 || secs[0].Reveal() != newMOR.Secret.Reveal() {
			t.Errorf("MOR secrets after rotation: %d", len(secs))
		}

		// With grace the old key works until the grace period ends.
		f.advance(time.Minute)
		graced, err := f.svc.GenerateKey(ctx, m, merchant.CMMP, time.Hour)
		if err != nil || graced.PreviousUntil == nil || !graced.PreviousUntil.Equal(t0.Add(time.Minute+time.Hour)) {
			t.Fatalf("GenerateKey(grace) = %+v, %v", graced, err)
		}
		gracedMOR, err := f.svc.GenerateKey(ctx, m, merchant.MOR, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			at      time.Duration // since the rotation
			oldOK   bool
			secrets int
		}{{0, true, 2}, {59 * time.Minute, true, 2}, {time.Hour, false, 1}, {2 * time.Hour, false, 1}}
		start := f.now.Load()
		for _, ch := range checks {
			f.now.Store(start + ch.at.Microseconds())
			_, err := f.svc.Authenticate(ctx, merchant.CMMP, k.Secret.Reveal())
			if ch.oldOK != (err == nil) {
				t.Errorf("+%v: old key accepted = %v (%v), want %v", ch.at, err == nil, err, ch.oldOK)
			}
			if _, err := f.svc.Authenticate(ctx, merchant.CMMP, graced.Secret.Reveal()); err != nil {
				t.Errorf("+%v: new key refused: %v", ch.at, err)
			}
			secs, err := f.svc.Secrets(ctx, m, merchant.MOR)
			if err != nil || len(secs) != ch.secrets || secs[0].Reveal() != gracedMOR.Secret.Reveal() {
				t.Errorf("+%v: MOR secrets = %d (%v), want %d with the new one first", ch.at, len(secs), err, ch.secrets)
			}
			g, _ := f.svc.Gateway(ctx, m, merchant.CMMP)
			if len(g.Keys) != ch.secrets || g.Keys[0].ExpiresAt != nil {
				t.Errorf("+%v: gateway keys = %+v", ch.at, g.Keys)
			}
		}
		// Rotating again without grace ends the grace of the previous key too.
		f.now.Store(start)
		if _, err := f.svc.GenerateKey(ctx, m, merchant.CMMP, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.GenerateKey(ctx, m, merchant.CMMP, 0); err != nil {
			t.Fatal(err)
		}
		if g, _ := f.svc.Gateway(ctx, m, merchant.CMMP); len(g.Keys) != 1 {
			t.Errorf("keys after a rotation without grace = %d, want 1", len(g.Keys))
		}
		for _, bad := range []time.Duration{-time.Second, merchant.MaxGrace + time.Second} {
			if _, err := f.svc.GenerateKey(ctx, m, merchant.CMMP, bad); !errors.Is(err, &invalidRequest) {
				t.Errorf("grace %v: %v", bad, err)
			}
		}
	})
}

func TestSetKey(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		a := f.create("a", "").Merchant.ID
		b := f.create("b", "").Merchant.ID
		// An existing integration keeps its key: MOR's own example secret.
		if _, err := f.svc.SetKey(ctx, a, merchant.MOR, "", "456789", 0); err != nil {
			t.Fatalf("SetKey(mor) = %v", err)
		}
		if secs, _ := f.svc.Secrets(ctx, a, merchant.MOR); len(secs) != 1 || secs[0].Reveal() != "456789" {
			t.Errorf("MOR secret = %v", secs)
		}
		if _, err := f.svc.SetKey(ctx, a, merchant.CMMP, "", "legacy-key-123", 0); err != nil {
			t.Fatal(err)
		}
		if g, err := f.svc.Authenticate(ctx, merchant.CMMP, "legacy-key-123"); err != nil || g.MerchantID != a {
			t.Errorf("Authenticate(legacy key) = %d, %v", g.MerchantID, err)
		}
		if _, err := f.svc.SetKey(ctx, a, merchant.WebTV, "shop-app", "MWIzMjNhNjE3", 0); err != nil {
			t.Fatal(err)
		}
		if g, sec, err := f.svc.WebTVKey(ctx, "shop-app"); err != nil || g.MerchantID != a || sec.Reveal() != "MWIzMjNhNjE3" {
			t.Errorf("WebTVKey(shop-app) = %d, %v", g.MerchantID, err)
		}
		tests := []struct {
			name    string
			m       int64
			d       merchant.Dialect
			keyID   string
			secret  string
			wantErr error
		}{
			{"same key for another merchant", b, merchant.CMMP, "", "legacy-key-123", merchant.ErrKeyInUse},
			{"same webtv key id for another merchant", b, merchant.WebTV, "shop-app", "another-secret", merchant.ErrKeyInUse},
			{"same key, another dialect", b, merchant.MugglePay, "", "legacy-key-123", nil},
			{"too short", a, merchant.CMMP, "", "12345", &invalidRequest},
			{"with a space", a, merchant.CMMP, "", "abc def ghi", &invalidRequest},
			{"key id for cmmp", a, merchant.CMMP, "id", "abcdefgh", &invalidRequest},
			{"webtv without key id", a, merchant.WebTV, "", "abcdefgh", &invalidRequest},
			{"unknown dialect", a, "soap", "", "abcdefgh", merchant.ErrDialectNotFound},
		}
		for _, tt := range tests {
			_, err := f.svc.SetKey(ctx, tt.m, tt.d, tt.keyID, config.Secret(tt.secret), 0)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: SetKey = %v, want %v", tt.name, err, tt.wantErr)
			}
		}
		// The refused key left a's key working.
		if g, err := f.svc.Authenticate(ctx, merchant.CMMP, "legacy-key-123"); err != nil || g.MerchantID != a {
			t.Errorf("a's key after b's conflict = %d, %v", g.MerchantID, err)
		}
	})
}

func TestSecretsAtRest(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.create("acme", "")
		m := c.Merchant.ID
		// The database holds hashes and ciphertext, never a secret.
		for _, k := range c.Keys {
			cs, err := st.Credentials(ctx, m, string(k.Dialect), t0)
			if err != nil || len(cs) != 1 {
				t.Fatalf("%s credentials: %v", k.Dialect, err)
			}
			sec := k.Secret.Reveal()
			if strings.Contains(cs[0].Lookup, sec) || bytes.Contains(cs[0].Sealed, []byte(sec)) {
				t.Errorf("%s: the secret is stored in clear", k.Dialect)
			}
			if sealed := k.Dialect == merchant.MOR || k.Dialect == merchant.WebTV; sealed != (cs[0].Sealed != nil) {
				t.Errorf("%s: sealed = %v", k.Dialect, cs[0].Sealed != nil)
			}
		}
		// A redacting type: formatting a new key never shows its secret.
		k := keyOf(c, merchant.MOR)
		for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k)} {
			if strings.Contains(s, k.Secret.Reveal()) {
				t.Errorf("formatted key shows its secret: %s", s)
			}
		}

		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("new key", "key", k)
		if strings.Contains(logged.String(), k.Secret.Reveal()) || !strings.Contains(logged.String(), k.Hint) {
			t.Errorf("logged key: %s", logged.String())
		}

		// The master key is recorded on first check and then enforced.
		if err := f.svc.CheckMasterKey(ctx); err != nil {
			t.Fatalf("first CheckMasterKey: %v", err)
		}
		if err := f.svc.CheckMasterKey(ctx); err != nil {
			t.Fatalf("CheckMasterKey with the same key: %v", err)
		}
		wrong, _ := seal.New(seal.NewKey())
		other := f.service(wrong)
		if err := other.CheckMasterKey(ctx); !errors.Is(err, merchant.ErrMasterKeyMismatch) {
			t.Errorf("CheckMasterKey with another key = %v, want ErrMasterKeyMismatch", err)
		}
		if _, err := other.Secrets(ctx, m, merchant.MOR); !errors.Is(err, merchant.ErrSealed) {
			t.Errorf("Secrets with another master key = %v, want master_key_mismatch", err)
		}
		if _, _, err := other.WebTVKey(ctx, keyOf(c, merchant.WebTV).KeyID); !errors.Is(err, merchant.ErrSealed) {
			t.Errorf("WebTVKey with another master key = %v", err)
		}
		// Hashed keys need no master key.
		if _, err := other.Authenticate(ctx, merchant.CMMP, keyOf(c, merchant.CMMP).Secret.Reveal()); err != nil {
			t.Errorf("Authenticate with another master key: %v", err)
		}
		// The same master key, loaded again, opens everything.
		same := f.service(f.sealer)
		if secs, err := same.Secrets(ctx, m, merchant.MOR); err != nil || secs[0].Reveal() != k.Secret.Reveal() {
			t.Errorf("Secrets with the same key: %v", err)
		}
		// A sealed secret moved to another merchant's row does not open.
		c2 := f.create("other", "")
		row, _ := st.Credentials(ctx, m, "mor", t0)
		moved := store.Credential{MerchantID: c2.Merchant.ID, Dialect: "mor", Sealed: row[0].Sealed, CreatedAt: t0}
		if err := st.ReplaceCredential(ctx, &moved, t0, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Secrets(ctx, c2.Merchant.ID, merchant.MOR); !errors.Is(err, merchant.ErrSealed) {
			t.Errorf("a sealed secret moved to another merchant opened: %v", err)
		}
	})
}

func TestAuthenticateRefusals(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.create("acme", "")
		key := keyOf(c, merchant.CMMP).Secret.Reveal()
		for _, presented := range []string{"", key[:39], key + "0", strings.ToUpper(key), " " + key, strings.Repeat("a", 300), "\x00"} {
			if _, err := f.svc.Authenticate(ctx, merchant.CMMP, presented); !errors.Is(err, merchant.ErrUnknownKey) {
				t.Errorf("Authenticate(%q) = %v, want unknown_key", presented, err)
			}
		}
		for _, id := range []string{"", "no such id", strings.Repeat("k", 65)} {
			if _, _, err := f.svc.WebTVKey(ctx, id); !errors.Is(err, merchant.ErrUnknownKey) {
				t.Errorf("WebTVKey(%q) = %v", id, err)
			}
		}
		if _, err := f.svc.Authenticate(ctx, merchant.MOR, key); err == nil {
			t.Error("Authenticate(mor) succeeded: MOR secrets are not looked up by hash")
		}
	})
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true}, {"abc", "abc", true}, {"abc", "abd", false}, {"abc", "abcd", false}, {"abc", "", false},
	}
	for _, tt := range tests {
		if got := merchant.Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
