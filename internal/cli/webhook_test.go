package cli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/cli"
	"github.com/coffer-pay/coffer/internal/store/postgres"
)

// hookReceiver refuses every webhook until accept is set, then takes them,
// checking each signature.
type hookReceiver struct {
	t       *testing.T
	srv     *httptest.Server
	secret  atomic.Value // string
	accept  atomic.Bool
	refused atomic.Int64
	mu      sync.Mutex
	got     map[string]int // webhook-id → times accepted
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t, got: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if s, _ := r.secret.Load().(string); s != "" {
			if err := client.VerifyWebhook(s, req.Header, body, time.Minute); err != nil {
				r.t.Errorf("receiver: %v", err)
			}
		}
		if !r.accept.Load() {
			r.refused.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		r.got[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) times(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

// TestWebhookSurvivesSIGKILL commits a transfer whose event a receiver
// refuses, kills `coffer serve` with SIGKILL before the event is
// delivered, lets the receiver accept, restarts the server, and checks
// that the event arrives — on SQLite and PostgreSQL.
func TestWebhookSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills real processes; skipped with -short")
	}
	bin := buildCoffer(t)
	t.Setenv("COFFER_ALLOW_PRIVATE_WEBHOOKS", "true")
	t.Setenv("COFFER_WEBHOOK_TIMEOUT", "2s")
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "coffer.db") },
		"postgres": func(t *testing.T) string { return postgres.NewTestDatabase(t) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			db := backends[name](t)
			key, _, err := apikey.Generate("admin", 1, "webhook-crash-test")
			if err != nil {
				t.Fatal(err)
			}
			addr := freeAddr(t)
			rcv := newHookReceiver(t)
			srv := startServer(t, bin, db, addr, key)
			ctx := context.Background()
			c := client.New(srv.url, key)
			url := rcv.srv.URL + "/coffer-events"
			w, err := c.CreateWebhook(ctx, client.WebhookRequest{URL: &url, EventTypes: []string{"transfer.*"}})
			if err != nil {
				t.Fatal(err)
			}
			rcv.secret.Store(w.Secret)
			mint, err := c.CreateAccount(ctx, client.CreateAccountRequest{Asset: "USD", Name: "mint", Normal: "debit", Unlimited: true})
			if err != nil {
				t.Fatal(err)
			}
			wallet, err := c.CreateAccount(ctx, client.CreateAccountRequest{Asset: "USD", Name: "wallet"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateTransfer(ctx, client.TransferRequest{Key: "paid-1", DebitAccountID: mint.ID, CreditAccountID: wallet.ID, Asset: "USD", Amount: "25.00"}); err != nil {
				t.Fatal(err)
			}
			evs, err := c.ListEvents(ctx, client.ListParams{})
			if err != nil || len(evs.Data) != 1 {
				t.Fatalf("events = %+v, %v", evs, err)
			}
			id := evs.Data[0].ID
			waitUntil(t, 30*time.Second, "a refused attempt", func() bool { return rcv.refused.Load() > 0 })
			// Kill only once the refusal is in the delivery log: a kill between
			// the receiver's answer and its recording loses that log line (the
			// event is still delivered, but the check below wants the line).
			waitUntil(t, 30*time.Second, "the refused attempt recorded", func() bool {
				ev, err := c.GetEvent(ctx, id)
				return err == nil && len(ev.Deliveries) == 1 && ev.Deliveries[0].Attempts >= 1
			})

			srv.kill(t) // the state change is committed; the event is not delivered
			rcv.accept.Store(true)
			srv = startServer(t, bin, db, addr, key)
			waitUntil(t, 60*time.Second, "the event delivered after the restart", func() bool { return rcv.times(id) > 0 })

			c = client.New(srv.url, key)
			waitUntil(t, 10*time.Second, "the delivery recorded", func() bool {
				ev, err := c.GetEvent(ctx, id)
				return err == nil && len(ev.Deliveries) == 1 && ev.Deliveries[0].State == "delivered"
			})
			ev, _ := c.GetEvent(ctx, id)
			d := ev.Deliveries[0]
			if d.Attempts < 2 || len(d.Log) != d.Attempts || d.Log[0].ResponseStatus != http.StatusServiceUnavailable {
				t.Errorf("delivery = %+v, want the refused attempt then the accepted one", d)
			}
			if n := rcv.times(id); n != 1 {
				t.Errorf("event accepted %d times, want 1", n)
			}
			srv.kill(t)
		})
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// coffer webhook …, on a database, in process.
func TestWebhookCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "coffer.db")
	run := func(args ...string) (string, int) {
		var out, errOut bytes.Buffer
		code := cli.Main(context.Background(), append([]string{"coffer"}, args...), &out, &errOut)
		return out.String() + errOut.String(), code
	}
	if out, code := run("migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	out, code := run("webhook", "create", "--db", db, "--url", "http://127.0.0.1:9/hook", "--events", "transfer.*")
	if code == 0 || !strings.Contains(out, "--url") {
		t.Errorf("create with a loopback URL = %d %s, want refused", code, out)
	}
	out, code = run("webhook", "create", "--db", db, "--url", "https://example.com/hook", "--events", "transfer.*, order.paid", "--description", "shop")
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(out)
	if code != 0 || secret == "" || !strings.Contains(out, "endpoint 1 created for merchant 1") {
		t.Fatalf("create = %d %s", code, out)
	}
	out, code = run("webhook", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "https://example.com/hook") || !strings.Contains(out, "transfer.*,order.paid") || !strings.Contains(out, "enabled") {
		t.Errorf("list = %d %s", code, out)
	}
	out, code = run("webhook", "rotate", "--db", db, "--id", "1", "--grace", "1h")
	if code != 0 || !strings.Contains(out, "old one stays valid until") || strings.Contains(out, secret) {
		t.Errorf("rotate = %d %s", code, out)
	}
	out, code = run("webhook", "redeliver", "--db", db, "--failed-since", "6h")
	if code != 0 || !strings.Contains(out, "0 deliveries scheduled again") {
		t.Errorf("redeliver --failed-since = %d %s", code, out)
	}
	if out, code = run("webhook", "redeliver", "--db", db); code != 2 {
		t.Errorf("redeliver without a selection = %d %s, want usage", code, out)
	}
	if out, code = run("webhook", "redeliver", "--db", db, "--event", "evt_nothing"); code != 1 || !strings.Contains(out, "event not found") {
		t.Errorf("redeliver of an unknown event = %d %s", code, out)
	}
	if out, code = run("webhook", "delete", "--db", db, "--id", "1"); code != 0 {
		t.Errorf("delete = %d %s", code, out)
	}
	if out, code = run("webhook", "delete", "--db", db, "--id", "1"); code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("delete again = %d %s", code, out)
	}
	if out, code = run("webhook", "nothing"); code != 2 {
		t.Errorf("unknown subcommand = %d %s", code, out)
	}
}
