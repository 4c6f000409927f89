// Package config holds Coffer's server configuration: defaults, flags,
// COFFER_* environment variables and validation. It keeps no globals.
package config

import (
	"errors"
	"flag"
	"fmt"
	"github.com/coffer-pay/coffer/internal/money"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Secret is a string that never prints: logs, errors and %v show a
// placeholder.
type Secret string

func (s Secret) String() string { return redact(s) }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return redact(s) }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redact(s)) }

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

func redact(s Secret) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Config is everything `coffer serve` needs.
type Config struct {
	Addr            string        // listen address
	DB              string        // SQLite file path or postgres:// URL
	PublicURL       string        // how clients reach this server (for links); derived from Addr if empty
	LogLevel        string        // debug, info, warn, error
	LogFormat       string        // text or json
	AdminKey        Secret        // bootstrap admin API key (COFFER_ADMIN_KEY)
	MaxBatch        int           // transfers per database transaction
	Workers         int           // concurrent batch committers (0: 1)
	ShutdownTimeout time.Duration // how long in-flight work may take at shutdown
	RequestTimeout  time.Duration // server-side limit per request
	DebugAddr       string        // if set, serve net/http/pprof here (keep it private)
	BaseCurrency    string        // exchange rates are set against this currency

	// Notification delivery (package notify).
	WebhookWorkers       int           // delivery attempts at once on this node; 0 sends nothing from it
	WebhookTimeout       time.Duration // limit per delivery request
	AllowPrivateWebhooks bool          // deliver to loopback, private and link-local addresses too

	// External wallet mode (package extwallet): the merchant's CMMP wallets
	// live on the main site at this URL, reached with its secure key.
	ExternalWalletURL      string
	ExternalWalletKey      Secret
	ExternalWalletMerchant int64 // the merchant of this server whose wallets are external
}

// Default returns the defaults: SQLite in ./coffer-data, port 8080.
func Default() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DB:              filepath.Join("coffer-data", "coffer.db"),
		LogLevel:        "info",
		LogFormat:       "text",
		MaxBatch:        8000,
		ShutdownTimeout: 30 * time.Second,
		RequestTimeout:  30 * time.Second,
		WebhookWorkers:  8,
		WebhookTimeout:  15 * time.Second,
		BaseCurrency:    "USD",
	}
}

// IsPostgres reports whether DB names a PostgreSQL server.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// Flags registers the server flags on fs, with COFFER_* environment
// variables as their defaults (flags win over the environment).
func (c *Config) Flags(fs *flag.FlagSet) {
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		if v, ok := os.LookupEnv(name); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
		return def
	}
	envDur := func(name string, def time.Duration) time.Duration {
		if v, ok := os.LookupEnv(name); ok {
			if d, err := time.ParseDuration(v); err == nil {
				return d
			}
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("COFFER_ADDR", c.Addr), "listen address (env COFFER_ADDR)")
	fs.StringVar(&c.DB, "db", env("COFFER_DB", c.DB), "SQLite database file, or a postgres:// URL (env COFFER_DB)")
	fs.StringVar(&c.PublicURL, "public-url", env("COFFER_PUBLIC_URL", c.PublicURL), "base URL clients use to reach this server (env COFFER_PUBLIC_URL)")
	fs.StringVar(&c.LogLevel, "log-level", env("COFFER_LOG_LEVEL", c.LogLevel), "debug, info, warn or error (env COFFER_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("COFFER_LOG_FORMAT", c.LogFormat), "text or json (env COFFER_LOG_FORMAT)")
	fs.IntVar(&c.MaxBatch, "max-batch", envInt("COFFER_MAX_BATCH", c.MaxBatch), "most transfers per database transaction (env COFFER_MAX_BATCH)")
	fs.IntVar(&c.Workers, "workers", envInt("COFFER_WORKERS", c.Workers), "batches committing at once per node (0: 1, the fastest on both engines) (env COFFER_WORKERS)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDur("COFFER_SHUTDOWN_TIMEOUT", c.ShutdownTimeout), "time allowed for in-flight work at shutdown (env COFFER_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", envDur("COFFER_REQUEST_TIMEOUT", c.RequestTimeout), "server-side time limit per request (env COFFER_REQUEST_TIMEOUT)")
	fs.StringVar(&c.BaseCurrency, "base-currency", env("COFFER_BASE_CURRENCY", c.BaseCurrency), "the currency exchange rates are set against (env COFFER_BASE_CURRENCY)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("COFFER_DEBUG_ADDR", c.DebugAddr), "if set, serve Go profiling (net/http/pprof) on this address; keep it private (env COFFER_DEBUG_ADDR)")
	fs.IntVar(&c.WebhookWorkers, "webhook-workers", envInt("COFFER_WEBHOOK_WORKERS", c.WebhookWorkers), "webhook and callback deliveries sent at once by this node; 0 sends none from it (env COFFER_WEBHOOK_WORKERS)")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", envDur("COFFER_WEBHOOK_TIMEOUT", c.WebhookTimeout), "time limit of one webhook or callback request (env COFFER_WEBHOOK_TIMEOUT)")
	allowPrivate, _ := strconv.ParseBool(env("COFFER_ALLOW_PRIVATE_WEBHOOKS", strconv.FormatBool(c.AllowPrivateWebhooks)))
	fs.BoolVar(&c.AllowPrivateWebhooks, "allow-private-webhooks", allowPrivate, "let webhooks and callbacks reach loopback, private and link-local addresses (env COFFER_ALLOW_PRIVATE_WEBHOOKS)")
	c.AdminKey = Secret(env("COFFER_ADMIN_KEY", string(c.AdminKey)))
	fs.StringVar(&c.ExternalWalletURL, "external-wallet-url", env("COFFER_EXTERNAL_WALLET_URL", c.ExternalWalletURL), "external wallet mode: the main site (another Coffer, or WordPress with CM MicroPayments) whose wallets the merchant\n--external-wallet-merchant uses, such as https://main.example.com (env COFFER_EXTERNAL_WALLET_URL)")
	c.ExternalWalletKey = Secret(env("COFFER_EXTERNAL_WALLET_KEY", string(c.ExternalWalletKey)))
	fs.Func("external-wallet-key", "the main site's CMMP secure key; prefer the env COFFER_EXTERNAL_WALLET_KEY, which other users cannot see", func(v string) error {
		c.ExternalWalletKey = Secret(v)
		return nil
	})
	if c.ExternalWalletMerchant == 0 {
		c.ExternalWalletMerchant = 1
	}
	if v, ok := os.LookupEnv("COFFER_EXTERNAL_WALLET_MERCHANT"); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			c.ExternalWalletMerchant = n
		}
	}
	fs.Int64Var(&c.ExternalWalletMerchant, "external-wallet-merchant", c.ExternalWalletMerchant, "external wallet mode: the merchant of this server whose wallets are the main site's (env COFFER_EXTERNAL_WALLET_MERCHANT)")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr must not be empty"))
	}
	if c.DB == "" {
		errs = append(errs, errors.New("db must not be empty"))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log-format must be text or json, not %q", c.LogFormat))
	}
	if c.MaxBatch < 1 || c.MaxBatch > 100000 {
		errs = append(errs, fmt.Errorf("max-batch must be between 1 and 100000"))
	}
	if c.Workers < 0 || c.Workers > 64 {
		errs = append(errs, fmt.Errorf("workers must be between 0 and 64"))
	}
	if _, ok := money.CurrencyScale(c.BaseCurrency); !ok {
		errs = append(errs, fmt.Errorf("base-currency must be an ISO 4217 code, not %q", c.BaseCurrency))
	}
	if c.ShutdownTimeout <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("timeouts must be positive"))
	}
	if c.WebhookWorkers < 0 || c.WebhookWorkers > 256 {
		errs = append(errs, fmt.Errorf("webhook-workers must be between 0 and 256"))
	}
	if c.WebhookTimeout < time.Second || c.WebhookTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("webhook-timeout must be between 1s and 5m"))
	}
	switch u := c.ExternalWalletURL; {
	case u == "" && c.ExternalWalletKey != "":
		errs = append(errs, errors.New("external-wallet-key needs external-wallet-url"))
	case u == "":
	case !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://"):
		errs = append(errs, fmt.Errorf("external-wallet-url must start with http:// or https://, not %q", u))
	case c.ExternalWalletKey == "":
		errs = append(errs, errors.New("external-wallet-url needs the main site's secure key: external-wallet-key or COFFER_EXTERNAL_WALLET_KEY"))
	case c.ExternalWalletMerchant < 1:
		errs = append(errs, errors.New("external-wallet-merchant must be a merchant id"))
	}
	return errors.Join(errs...)
}

// ParseLevel reads a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log-level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

// Logger builds the process logger.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	lvl, _ := ParseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
