package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/dialect/cmmp"
	"github.com/coffer-pay/coffer/internal/dialect/mor"
	"github.com/coffer-pay/coffer/internal/dialect/mugglepay"
	"github.com/coffer-pay/coffer/internal/dialect/paykassma"
	"github.com/coffer-pay/coffer/internal/dialect/webtv"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/metrics"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/order"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/server"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// openStore opens the engine --db names and applies migrations.
// A server (exclusive) holds SQLite's lock file and caches accounts.
func openStore(ctx context.Context, db string, migrate, exclusive bool) (store.Store, error) {
	cfg := config.Config{DB: db}
	var st store.Store
	if cfg.IsPostgres() {
		s, err := postgres.Open(ctx, db, postgres.Options{})
		if err != nil {
			return nil, err
		}
		st = s
	} else {
		s, err := sqlite.Open(ctx, db, sqlite.Options{Exclusive: exclusive})
		if err != nil {
			return nil, err
		}
		st = s
	}
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	applied, known, err := st.SchemaVersion(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if applied != known {
		st.Close()
		return nil, fmt.Errorf("database schema is at migration %d but this coffer knows %d: run 'coffer migrate --db …' with the right binary", applied, known)
	}
	return st, nil
}

// redactDSN hides a password in a postgres:// URL for display.
func redactDSN(db string) string {
	if i := strings.Index(db, "://"); i >= 0 {
		if j := strings.LastIndex(db, "@"); j > i {
			creds := db[i+3 : j]
			if k := strings.Index(creds, ":"); k >= 0 {
				return db[:i+3] + creds[:k] + ":***" + db[j:]
			}
		}
	}
	return db
}

func runServe(ctx context.Context, env *Env, args []string) error {
	cfg := config.Default()
	fs := newFlags(env, "serve", "Run the Coffer server. With no flags it keeps its data in ./coffer-data/coffer.db (SQLite)\nand listens on 127.0.0.1:8080. Every flag can also be set with its COFFER_* variable.")
	cfg.Flags(fs)
	masterKeyFile := masterKeyFileFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger(env.Stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// External wallet mode: check the main site before writing anything.
	mainSite, err := dialExternalWallet(ctx, cfg, log)
	if err != nil {
		return err
	}

	st, err := openStore(ctx, cfg.DB, true, true)
	if err != nil {
		return err
	}
	defer st.Close()

	token, err := bootstrapKey(ctx, st, cfg.AdminKey)
	if err != nil {
		return err
	}

	m := metrics.New()
	// One batch committer per node: concurrent batches mostly want the
	// same account rows, so on PostgreSQL they would queue on row locks
	// and shrink each other's batches (measured: 8.2k transfers/s with one
	// worker, 3.1k with four).
	workers := cfg.Workers
	if workers == 0 {
		workers = 1
	}
	// Notifications: transfers emit events only for merchants with a
	// subscribed endpoint (subs); the dispatcher delivers the outbox.
	subs := notify.NewSubscriptions(st, log)
	if err := subs.Refresh(ctx); err != nil {
		return fmt.Errorf("read webhook endpoints: %w", err)
	}
	// The master key seals dialect secrets and webhook signing secrets.
	sealer, err := loadSealer(ctx, env, st, cfg.DB, *masterKeyFile, log)
	if err != nil {
		return err
	}
	formats := notify.DefaultFormats("Coffer-Webhooks/1")
	formats[store.FormatWebhook] = notify.Webhooks{UserAgent: "Coffer-Webhooks/1", Box: sealer}
	disp := notify.NewDispatcher(st, notify.Options{
		Workers: cfg.WebhookWorkers, Timeout: cfg.WebhookTimeout, AllowPrivate: cfg.AllowPrivateWebhooks,
		Observer: m.NewNotify(), Logger: log, Formats: formats,
	})
	webhooks := notify.NewService(st, notify.ServiceOptions{Subscriptions: subs, Nudge: disp.Nudge,
		AllowPrivate: cfg.AllowPrivateWebhooks, Box: sealer})
	eng := ledger.New(st, ledger.Options{
		MaxBatch: cfg.MaxBatch,
		Workers:  workers,
		Logger:   log,
		OnBatch: func(jobs, transfers int, took time.Duration, err error) {
			m.ObserveBatch(jobs, transfers, took, err)
			if subs.TakeEmitted() {
				disp.Nudge() // events committed: deliver them now, not at the next poll
			}
		},
		TransferEvent: subs.TransferEvent,
	})
	merchants := merchant.New(st, sealer, merchant.Options{Logger: log})
	wallets := wallet.New(eng, wallet.Options{Logger: log, Wants: subs.Wants})
	// External wallet mode: a merchant whose CMMP wallets live on a main site.
	mirror, err := externalWallet(ctx, mainSite, cfg, merchants, wallets, log)
	if err != nil {
		eng.Close(context.Background())
		return err
	}
	var extAPI api.ExternalWallet
	cmmpDeps := cmmp.Deps{Merchants: merchants, Wallets: wallets, Logger: log, RequestID: server.RequestID}
	if mirror != nil {
		defer mirror.Close()
		extAPI, cmmpDeps.External = mirror, mirror
	}
	rates := pricing.NewRates(st, cfg.BaseCurrency, nil)
	payments := payment.New(eng, wallets, rates)
	deposits := deposit.New(eng, wallets, deposit.Options{}) // postbacks not wired yet: no postback URL setting
	surfaces := []server.Surface{
		{Name: "native", Pattern: api.Prefix, Handler: api.New(api.Config{Engine: eng, Logger: log, Webhooks: webhooks,
			Merchants: merchants, Wallets: wallets, Payments: payments, Rates: rates, ExternalWallet: extAPI, Deposits: deposits}), MaxBody: 16 << 20},
		// CM MicroPayments: /wp-json/cmmpexapi/v1/…, and /?rest_route=/cmmpexapi/v1/… without pretty permalinks.
		{Name: "cmmp", Pattern: cmmp.Prefix, QueryParam: cmmp.RouteParam, Handler: cmmp.NewHandler(cmmpDeps), OnPanic: cmmp.OnPanic},
	}
	morHandler := mor.NewHandler(mor.Deps{Merchants: merchants, Wallets: wallets, Payments: payments, Logger: log})
	for _, p := range mor.Paths {
		surfaces = append(surfaces, server.Surface{Name: "mor", Pattern: p, Handler: morHandler, OnPanic: mor.OnPanic})
	}
	orders := order.New(eng, wallets, order.Options{})
	mpHandler := mugglepay.NewHandler(mugglepay.Deps{Merchants: merchants, Orders: orders, PublicURL: cfg.PublicURL, Logger: log})
	for _, p := range []string{"/v1/orders", "/v1/orders/"} {
		surfaces = append(surfaces, server.Surface{Name: "mugglepay", Pattern: p, Handler: mpHandler, OnPanic: mugglepay.OnPanic})
	}
	surfaces = append(surfaces, server.Surface{Name: "webtv", Pattern: webtv.Path,
		Handler: webtv.NewHandler(webtv.Deps{Merchants: merchants, Orders: orders, Logger: log}), OnPanic: webtv.OnPanic})
	pkHandler := paykassma.NewHandler(paykassma.Deps{Merchants: merchants, Deposits: deposits, Logger: log})
	surfaces = append(surfaces, server.Surface{Name: "paykassma", Pattern: paykassma.Prefix, Handler: pkHandler, OnPanic: paykassma.OnPanic})
	srv := server.New(server.Options{
		Addr:           cfg.Addr,
		RequestTimeout: cfg.RequestTimeout,
		Logger:         log,
		Metrics:        m,
		Store:          st,
		Surfaces:       surfaces,
	})
	if cfg.DebugAddr != "" {
		go servePprof(cfg.DebugAddr, log)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		eng.Close(context.Background())
		return err
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + displayAddr(ln.Addr())
	}
	log.Info("coffer serving", "addr", ln.Addr().String(), "db", redactDSN(cfg.DB), "workers", workers, "version", Version)
	// Delivery runs until the engine has stopped, and stops before the
	// store closes.
	nctx, stopNotify := context.WithCancel(context.Background())
	notifyDone := make(chan struct{})
	go subs.Run(nctx, notify.DefaultRefresh)
	go func() {
		defer close(notifyDone)
		if cfg.WebhookWorkers > 0 {
			disp.Run(nctx)
		}
	}()
	printWelcome(env, base, cfg, token)

	serveErr := srv.Serve(ctx, ln, cfg.ShutdownTimeout)
	if mirror != nil {
		mirror.Close() // stop a refresh before the engine stops
	}
	// Requests have finished; let the engine commit what is queued.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	closeErr := eng.Close(sctx)
	stopNotify()
	select {
	case <-notifyDone:
	case <-sctx.Done():
		log.Warn("webhook deliveries still running at shutdown; their claims expire and they are sent again")
	}
	log.Info("coffer stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return closeErr
}

func displayAddr(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "0.0.0.0:") || strings.HasPrefix(s, "[::]:") {
		return "127.0.0.1" + s[strings.LastIndex(s, ":"):]
	}
	return s
}

// bootstrapKey makes sure an admin API key exists. On an empty database it
// creates one (from COFFER_ADMIN_KEY if set) and returns the token so that
// it can be shown once; otherwise it returns "".
func bootstrapKey(ctx context.Context, st store.Store, chosen config.Secret) (string, error) {
	n, err := st.CountAPIKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("count api keys: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	var token string
	var row store.APIKey
	if chosen != "" {
		row, err = apikey.Import(chosen.Reveal(), "admin", 1, "bootstrap")
		if err != nil {
			return "", fmt.Errorf("COFFER_ADMIN_KEY: %w", err)
		}
		token = chosen.Reveal()
	} else {
		token, row, err = apikey.Generate("admin", 1, "bootstrap")
		if err != nil {
			return "", err
		}
	}
	if err := st.InsertAPIKey(ctx, &row); err != nil {
		return "", fmt.Errorf("store admin key: %w", err)
	}
	return token, nil
}

func printWelcome(env *Env, base string, cfg config.Config, token string) {
	w := env.Stdout
	fmt.Fprintf(w, "\nCoffer is running at %s\n", base)
	if cfg.IsPostgres() {
		fmt.Fprintf(w, "  database:   PostgreSQL %s\n", redactDSN(cfg.DB))
	} else {
		fmt.Fprintf(w, "  database:   SQLite %s\n", cfg.DB)
	}
	fmt.Fprintf(w, "  native API: %s%s   (reference: %s%sopenapi.json, docs/api.md)\n", base, api.Prefix, base, api.Prefix)
	fmt.Fprintf(w, "  health:     %s/healthz  %s/readyz  metrics: %s/metrics\n", base, base, base)
	switch {
	case token != "" && cfg.AdminKey != "":
		fmt.Fprintln(w, "\nThe admin API key was set from COFFER_ADMIN_KEY.")
	case token != "":
		fmt.Fprintf(w, "\nAdmin API key (shown only this once; keep it safe):\n\n  %s\n", token)
		fmt.Fprintf(w, "\nTry it:\n  curl -H 'Authorization: Bearer %s' %s%sassets\n", token, base, api.Prefix)
	default:
		fmt.Fprintln(w, "\nUse the admin API key printed at the first start (or set with COFFER_ADMIN_KEY).")
	}
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}

// servePprof serves the Go profiler on its own listener, never on the
// public one.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	log.Info("profiling enabled", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Warn("profiling server stopped", "err", err)
	}
}
