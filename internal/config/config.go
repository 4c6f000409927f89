// Package config holds Coffer's server configuration: defaults, flags,
// COFFER_* environment variables and validation. It keeps no globals.
package config

import (
	"errors"
	"flag"
	"fmt"
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
	fs.StringVar(&c.DebugAddr, "debug-addr", env("COFFER_DEBUG_ADDR", c.DebugAddr), "if set, serve Go profiling (net/http/pprof) on this address; keep it private (env COFFER_DEBUG_ADDR)")
	c.AdminKey = Secret(env("COFFER_ADMIN_KEY", string(c.AdminKey)))
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
	if c.ShutdownTimeout <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("timeouts must be positive"))
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
