package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

// server is a real native API over a real engine and SQLite database.
type server struct {
	st      store.Store
	handler http.Handler
	srv     *httptest.Server
	key     string // admin key of merchant 1
}

func newServer(t *testing.T) *server {
	t.Helper()
	st := sqlite.OpenTest(t)
	eng := ledger.New(st, ledger.Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	tok, row, err := apikey.Generate(apikey.RoleAdmin, 1, "bench")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InsertAPIKey(context.Background(), &row); err != nil {
		t.Fatalf("insert key: %v", err)
	}
	h := api.New(api.Config{Engine: eng})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &server{st: st, handler: h, srv: srv, key: tok}
}

func verifyLedger(t *testing.T, st store.Store) {
	t.Helper()
	rep, err := ledger.Verify(context.Background(), st)
	if err != nil {
		t.Fatalf("ledger.Verify: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("ledger.Verify: %s", p)
	}
}

// lastLine returns the JSON line that ends the output, decoded.
func lastLine(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	return m
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		scenario     string
		batch        int
		wantRequests int64
	}{
		{Spread, 0, 2000},
		{Hot, 0, 2000},
		{Batch, 200, 10},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			acked := filepath.Join(t.TempDir(), "acked")
			var out bytes.Buffer
			sum, err := Run(context.Background(), Options{
				URL: s.srv.URL, Key: s.key, Scenario: tt.scenario, Concurrency: 8, Count: 2000,
				Duration: time.Minute, Accounts: 50, BatchSize: tt.batch, AckedFile: acked,
			}, &out)
			t.Logf("output:\n%s", out.String())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if sum.Requests != tt.wantRequests || sum.Transfers != 2000 || sum.Errors != 0 || sum.Failed != 0 || sum.Unknown != 0 {
				t.Errorf("requests %d transfers %d errors %d failed %d unknown %d, want %d 2000 0 0 0",
					sum.Requests, sum.Transfers, sum.Errors, sum.Failed, sum.Unknown, tt.wantRequests)
			}
			if !sum.BalanceOK {
				t.Errorf("balance_ok is false")
			}
			if sum.TransfersPerSec <= 0 || sum.P50Ms <= 0 || sum.P50Ms > sum.P99Ms || sum.P99Ms > sum.MaxMs {
				t.Errorf("implausible timing: %+v", sum)
			}
			m := lastLine(t, out.String())
			if m["scenario"] != tt.scenario || m["transfers"] != float64(2000) || m["balance_ok"] != true {
				t.Errorf("JSON line = %v", m)
			}
			keys := readLines(t, acked)
			if len(keys) != 2000+50 {
				t.Errorf("acked file has %d keys, want 2050", len(keys))
			}
			verifyLedger(t, s.st)
		})
	}
}

func TestJSONLine(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var out bytes.Buffer
	if _, err := Run(context.Background(), Options{URL: s.srv.URL, Key: s.key, Concurrency: 4, Count: 200, Accounts: 10}, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	m := lastLine(t, out.String())
	for _, k := range []string{"scenario", "requests", "transfers", "errors", "failed", "duration_s", "transfers_per_sec",
		"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "concurrency", "balance_ok"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON line lacks %q: %v", k, m)
		}
	}
	if m["concurrency"] != float64(4) || m["requests"] != float64(200) {
		t.Errorf("JSON line = %v", m)
	}
}

// A run bounded by time alone stops at its duration, with a warm-up
// before it whose transfers count in the balance check too.
func TestDurationAndWarmup(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var out bytes.Buffer
	start := time.Now()
	sum, err := Run(context.Background(), Options{
		URL: s.srv.URL, Key: s.key, Concurrency: 4, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Accounts: 10,
	}, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("run took %v", took)
	}
	if sum.Transfers == 0 || !sum.BalanceOK || sum.DurationS < 0.3 || sum.DurationS > 5 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(out.String(), "warm-up:") {
		t.Errorf("no warm-up line in\n%s", out.String())
	}
	verifyLedger(t, s.st)
}

// When the server goes away mid-run the bench stops promptly, counts the
// failures instead of dying on them, and every key it reports as
// acknowledged is in the ledger.
func TestServerGone(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	acked := filepath.Join(t.TempDir(), "acked")
	// Once the load has run a while, the server goes like a crash: no new
	// connections, open ones cut mid-request.
	var seen atomic.Int64
	var once sync.Once
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/coffer/v1/transfers" && seen.Add(1) == 300 {
			once.Do(func() {
				srv.Listener.Close()
				srv.CloseClientConnections()
			})
		}
		s.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var out bytes.Buffer
	start := time.Now()
	sum, err := Run(context.Background(), Options{
		URL: srv.URL, Key: s.key, Concurrency: 8, Count: 10_000_000, Duration: time.Minute, Accounts: 20, AckedFile: acked,
	}, &out)
	took := time.Since(start)
	t.Logf("output:\n%s", out.String())
	if err == nil {
		t.Fatal("Run succeeded against a dead server")
	}
	if took > 15*time.Second {
		t.Errorf("run took %v to notice the server was gone", took)
	}
	if sum.Errors == 0 || sum.Transfers == 0 || sum.BalanceOK {
		t.Errorf("summary %+v", sum)
	}
	lastLine(t, out.String())

	// The server restarts over the same database.
	srv2 := httptest.NewServer(s.handler)
	defer srv2.Close()
	c := client.New(srv2.URL, s.key)
	keys := readLines(t, acked)
	if int64(len(keys)) != sum.Transfers+20 {
		t.Errorf("acked file has %d keys, want %d", len(keys), sum.Transfers+20)
	}
	for _, k := range keys {
		o, err := c.LookupTransfer(context.Background(), k)
		if err != nil || !o.Succeeded() {
			t.Fatalf("acknowledged key %s: %+v %v", k, o, err)
		}
	}
	verifyLedger(t, s.st)
}

// The balance check catches money that moved behind the bench's back.
func TestVerifyCatchesMismatch(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	opt, err := Options{URL: s.srv.URL, Key: s.key, Concurrency: 4, Count: 100, Accounts: 5}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(opt)
	if err := r.setup(ctx); err != nil {
		t.Fatal(err)
	}
	res := r.phase(ctx, 100, 0)
	if res.transfers != 100 {
		t.Fatalf("transfers %d, want 100", res.transfers)
	}
	if n, problems, err := r.verify(ctx, nil); err != nil || len(problems) != 0 || n != 6 {
		t.Fatalf("verify before: %d %v %v", n, problems, err)
	}
	if _, err := r.c.CreateTransfer(ctx, client.TransferRequest{
		Key: "outsider", DebitAccountID: r.ids[0], CreditAccountID: r.ids[1], Asset: "USD", Amount: "0.01",
	}); err != nil {
		t.Fatal(err)
	}
	_, problems, err := r.verify(ctx, nil)
	if err != nil || len(problems) != 2 {
		t.Fatalf("verify after: %v %v, want 2 problems", problems, err)
	}
}

// Transfers of unknown outcome are looked up by key before balances are
// compared.
func TestVerifyResolvesUnknown(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	opt, _ := Options{URL: s.srv.URL, Key: s.key, Concurrency: 1, Count: 10, Accounts: 3}.withDefaults()
	r := newRun(opt)
	if err := r.setup(ctx); err != nil {
		t.Fatal(err)
	}
	// Transfer 0 applied without the bench hearing of it; 1 never sent.
	from, to, amount := r.pick(0)
	if _, err := r.c.CreateTransfer(ctx, client.TransferRequest{
		Key: r.keyString('t', 0), DebitAccountID: r.id(from), CreditAccountID: r.id(to), Asset: "USD", Amount: r.amounts[amount],
	}); err != nil {
		t.Fatal(err)
	}
	r.next.Store(2)
	_, problems, err := r.verify(ctx, []span{{0, 2}})
	if err != nil || len(problems) != 0 {
		t.Fatalf("verify: %v %v", problems, err)
	}
	_, problems, _ = r.verify(ctx, nil)
	if len(problems) == 0 {
		t.Fatal("verify without the lookup found no problem")
	}
}

func TestFlags(t *testing.T) {
	t.Setenv("COFFER_URL", "http://example.test:9")
	t.Setenv("COFFER_API_KEY", "ck_secret")
	var o Options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o.Flags(fs)
	if err := fs.Parse([]string{"--scenario", "batch", "--batch-size", "500", "--duration", "5s", "--acked-file", "a.txt"}); err != nil {
		t.Fatal(err)
	}
	want := Options{URL: "http://example.test:9", Key: "ck_secret", Scenario: Batch, Concurrency: 64, Count: 100000,
		Duration: 5 * time.Second, Accounts: 1000, BatchSize: 500, Asset: "USD", Timeout: 10 * time.Second, MaxErrors: 100, AckedFile: "a.txt"}
	if o != want {
		t.Errorf("options\n got %+v\nwant %+v", o, want)
	}
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	fs.PrintDefaults()
	if strings.Contains(usage.String(), "ck_secret") {
		t.Error("the usage text shows the API key")
	}
	fs2 := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o2 Options
	o2.Flags(fs2)
	if err := fs2.Parse([]string{"--key", "ck_other", "--url", "http://x"}); err != nil {
		t.Fatal(err)
	}
	if o2.Key != "ck_other" || o2.URL != "http://x" {
		t.Errorf("flags do not override the environment: %+v", o2)
	}
}

func TestOptionsChecked(t *testing.T) {
	base := Options{URL: "http://x", Key: "k", Count: 1}
	for name, o := range map[string]Options{
		"no bound":     {URL: "http://x", Key: "k"},
		"no key":       {URL: "http://x", Count: 1},
		"bad scenario": {URL: "http://x", Key: "k", Count: 1, Scenario: "nope"},
		"big batch":    {URL: "http://x", Key: "k", Count: 1, Scenario: Batch, BatchSize: maxBatch + 1},
		"one account":  {URL: "http://x", Key: "k", Count: 1, Accounts: 1},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := base.withDefaults(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestHist(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if d := got - c.want; d < -c.want/50 || d > c.want/50 {
			t.Errorf("quantile(%v) = %v, want %v ± 2%%", c.q, got, c.want)
		}
	}
	if h.max != time.Second {
		t.Errorf("max = %v", h.max)
	}
	for v := uint64(0); v < 1<<22; v += 997 {
		low, width := bounds(bucket(v))
		if v < low || v >= low+width {
			t.Fatalf("value %d in bucket [%d, %d)", v, low, low+width)
		}
	}
	if b := bucket(1 << 62); b >= nBuckets {
		t.Errorf("bucket of a huge value = %d, want < %d", b, nBuckets)
	}
}

func TestBitset(t *testing.T) {
	var b bitset
	set := []uint64{0, 63, 64, pageBits - 1, pageBits, 3*pageBits + 5}
	for _, i := range set {
		b.set(i)
	}
	var got []uint64
	b.each(func(i uint64) error { got = append(got, i); return nil })
	if len(got) != len(set) {
		t.Fatalf("each gave %v, want %v", got, set)
	}
	for k := range set {
		if got[k] != set[k] || !b.has(set[k]) {
			t.Errorf("each gave %v, want %v", got, set)
		}
	}
	if b.has(1) {
		t.Error("has(1) without set")
	}
}

// A run that cannot set up (here: a key the server does not know) fails
// at once, and still ends its output with the JSON line.
func TestSetupFails(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var out bytes.Buffer
	sum, err := Run(context.Background(), Options{
		URL: s.srv.URL, Key: "ck_abcdefghijkl_abcdefghijklmnopqrstuvwxyz234567", Count: 10,
	}, &out)
	if err == nil || client.Code(err) != "unauthorized" {
		t.Fatalf("Run: %v, want unauthorized", err)
	}
	if m := lastLine(t, out.String()); m["balance_ok"] != false || sum.BalanceOK {
		t.Errorf("JSON line = %v", m)
	}
}
