// Package bench is the load generator behind `coffer bench`. It drives a
// running Coffer server over HTTP through the public client package only,
// the way any integration would, and reports throughput and latency.
//
// A run sets up its own accounts (an unlimited debit-normal mint funds
// every customer account generously, so transfers practically never fail
// for lack of funds), then sends transfers from Concurrency workers until
// Count transfers were sent or Duration passed, whichever comes first. It
// knows which transfers the server acknowledged, so afterwards it computes
// the balance every account must have and reads each one back: any
// difference is an error. Every key and account key carries the run's id,
// so runs against the same server never collide.
//
// Scenarios:
//   - spread: one transfer per request, between a random pair of Accounts
//     accounts;
//   - hot: one transfer per request, from a random customer account to one
//     merchant account that every transfer credits;
//   - batch: BatchSize transfers per request (POST /transfers/batch),
//     between random pairs.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/client"
)

// Scenario names.
const (
	Spread = "spread"
	Hot    = "hot"
	Batch  = "batch"
)

// maxBatch is the most transfers the server takes in one batch request.
const maxBatch = 8000

// Options configure a run. Flags registers them with their defaults.
type Options struct {
	URL         string        // base URL of the server
	Key         string        // API key (ck_…)
	Scenario    string        // spread, hot or batch
	Concurrency int           // workers sending requests; 0 means 64
	Count       int64         // transfers to send; 0: as many as Duration allows
	Duration    time.Duration // how long to send; 0: until Count were sent
	Warmup      time.Duration // load sent and not measured before the run
	Accounts    int           // customer accounts; 0 means 1000
	BatchSize   int           // transfers per request in the batch scenario; 0 means 1000
	Asset       string        // asset of the accounts; "" means USD
	Timeout     time.Duration // time limit of one request; 0 means 10s
	// MaxErrors stops the run after that many requests in a row failed
	// without an answer from the server (or with a 5xx); 0 means 100.
	MaxErrors int
	// AckedFile, if set, receives every idempotency key the server
	// acknowledged (set-up funding included), one per line.
	AckedFile string
	// SkipVerify skips reading the balances back after the run.
	SkipVerify bool
	// RunID names the run's keys; "" picks a random one. Running again
	// with the same id replays the same transfers under the same keys.
	RunID string
	// CPUProfile, if set, receives a CPU profile (pprof format) of the
	// bench process itself during the measured phase.
	CPUProfile string
}

// Flags registers the options on fs with their defaults. The URL and the
// key default to $COFFER_URL and $COFFER_API_KEY.
func (o *Options) Flags(fs *flag.FlagSet) {
	url := os.Getenv("COFFER_URL")
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	fs.StringVar(&o.URL, "url", url, "base URL of the Coffer server (env COFFER_URL)")
	// The key's default is not shown in -help: it is a secret.
	fs.StringVar(&o.Key, "key", "", "API key, ck_… (default $COFFER_API_KEY)")
	o.Key = os.Getenv("COFFER_API_KEY")
	fs.StringVar(&o.Scenario, "scenario", Spread, "spread (random pairs), hot (every transfer credits one account) or batch (--batch-size transfers per request)")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "concurrent requests")
	fs.Int64Var(&o.Count, "count", 100000, "transfers to send; the run stops at --count or --duration, whichever comes first (0: no count limit)")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "longest time to send for (0: no time limit)")
	fs.DurationVar(&o.Warmup, "warmup", 0, "load to send, not measured, before the run")
	fs.IntVar(&o.Accounts, "accounts", 1000, "customer accounts to spread the transfers over")
	fs.IntVar(&o.BatchSize, "batch-size", 1000, fmt.Sprintf("transfers per request in the batch scenario (at most %d)", maxBatch))
	fs.StringVar(&o.Asset, "asset", "USD", "asset of the accounts (an ISO 4217 currency, or an asset defined on the server)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "time limit of one request")
	fs.IntVar(&o.MaxErrors, "max-errors", 100, "stop after this many requests in a row got no answer (server gone)")
	fs.StringVar(&o.AckedFile, "acked-file", "", "write every acknowledged idempotency key to this file, one per line")
	fs.BoolVar(&o.SkipVerify, "skip-verify", false, "do not read the balances back after the run")
	fs.StringVar(&o.RunID, "run-id", "", "id in every key of the run (default: random); the same id replays the same transfers")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the bench itself (the measured phase) to this file")
}

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Scenario == "" {
		o.Scenario = Spread
	}
	if o.Concurrency == 0 {
		o.Concurrency = 64
	}
	if o.Accounts == 0 {
		o.Accounts = 1000
	}
	if o.BatchSize == 0 {
		o.BatchSize = 1000
	}
	if o.Asset == "" {
		o.Asset = "USD"
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxErrors == 0 {
		o.MaxErrors = 100
	}
	if o.RunID == "" {
		b := make([]byte, 5)
		if _, err := rand.Read(b); err != nil {
			return o, fmt.Errorf("bench: run id: %w", err)
		}
		o.RunID = strings.ToLower(base32.StdEncoding.EncodeToString(b))
	}
	minAccounts := 2
	if o.Scenario == Hot {
		minAccounts = 1
	}
	switch {
	case o.URL == "":
		return o, errors.New("bench: the server URL is required (--url or COFFER_URL)")
	case o.Key == "":
		return o, errors.New("bench: an API key is required (--key or COFFER_API_KEY)")
	case o.Scenario != Spread && o.Scenario != Hot && o.Scenario != Batch:
		return o, fmt.Errorf("bench: unknown scenario %q: want spread, hot or batch", o.Scenario)
	case o.Concurrency < 1 || o.Concurrency > 10000:
		return o, errors.New("bench: concurrency must be between 1 and 10000")
	case o.Count < 0 || o.Duration < 0 || o.Warmup < 0 || o.Timeout < 0:
		return o, errors.New("bench: count, duration, warmup and timeout must not be negative")
	case o.Count == 0 && o.Duration == 0:
		return o, errors.New("bench: a run needs a bound: set a count, a duration or both")
	case o.Count > maxIndex/2:
		return o, fmt.Errorf("bench: count must be at most %d", int64(maxIndex/2))
	case o.Accounts < minAccounts || o.Accounts > 1_000_000:
		return o, fmt.Errorf("bench: accounts must be between %d and 1000000", minAccounts)
	case o.BatchSize < 1 || o.BatchSize > maxBatch:
		return o, fmt.Errorf("bench: batch size must be between 1 and %d", maxBatch)
	case o.MaxErrors < 1:
		return o, errors.New("bench: max errors must be at least 1")
	case len(o.RunID) > 40 || strings.ContainsAny(o.RunID, " \t\r\n"):
		return o, errors.New("bench: run id must be at most 40 characters without spaces")
	}
	return o, nil
}

// Summary is the outcome of a run. The JSON field names are those of the
// last line of the output.
type Summary struct {
	Scenario        string  `json:"scenario"`
	Requests        int64   `json:"requests"`  // requests sent in the measured window
	Transfers       int64   `json:"transfers"` // transfers acknowledged (replays included)
	Errors          int64   `json:"errors"`    // requests without a usable answer: transport errors, 5xx, refused requests
	Failed          int64   `json:"failed"`    // transfers the server refused for a business reason
	DurationS       float64 `json:"duration_s"`
	TransfersPerSec float64 `json:"transfers_per_sec"`
	P50Ms           float64 `json:"p50_ms"`
	P90Ms           float64 `json:"p90_ms"`
	P99Ms           float64 `json:"p99_ms"`
	P999Ms          float64 `json:"p999_ms"`
	MaxMs           float64 `json:"max_ms"`
	Concurrency     int     `json:"concurrency"`
	BalanceOK       bool    `json:"balance_ok"`
	// Unknown counts the transfers whose outcome the run did not learn
	// (transport errors, timeouts, 5xx); the balance check looks them up.
	Unknown   int64  `json:"unknown"`
	Accounts  int    `json:"accounts"`
	BatchSize int    `json:"batch_size,omitempty"`
	RunID     string `json:"run_id"`
}

// Run sets up accounts on the server, sends the load, checks the balances
// and writes a human summary to out followed by one line of JSON (the
// Summary). It returns an error, along with what it measured, when the set-up
// fails, the run stops on errors, a balance is wrong or ctx ends.
func Run(ctx context.Context, opt Options, out io.Writer) (Summary, error) {
	if out == nil {
		out = io.Discard
	}
	opt, err := opt.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	r := newRun(opt)
	defer r.tr.CloseIdleConnections()
	sum := Summary{Scenario: opt.Scenario, Concurrency: opt.Concurrency, Accounts: opt.Accounts, RunID: opt.RunID}
	if opt.Scenario == Batch {
		sum.BatchSize = opt.BatchSize
	}

	fmt.Fprintf(out, "coffer bench: run %s, scenario %s, %d accounts of %s, concurrency %d\n",
		opt.RunID, opt.Scenario, opt.Accounts, opt.Asset, opt.Concurrency)
	start := time.Now()
	if err := r.setup(ctx); err != nil {
		fmt.Fprintf(out, "set-up failed: %v\n", err)
		sum.print(out, "not checked: set-up failed")
		return sum, fmt.Errorf("bench: set-up: %w", err)
	}
	fmt.Fprintf(out, "set-up: %d accounts opened and funded in %s\n", len(r.ids)+1+btoi(opt.Scenario == Hot), round(time.Since(start)))

	var unknown []span
	if opt.Warmup > 0 {
		w := r.phase(ctx, maxIndex, opt.Warmup)
		unknown = append(unknown, w.unknown...)
		fmt.Fprintf(out, "warm-up: %d transfers in %s, %d errors\n", w.transfers, round(w.took), w.errors)
	}
	var runErr error
	if r.abort == nil && ctx.Err() == nil {
		limit := uint64(maxIndex)
		if opt.Count > 0 {
			limit = min(r.next.Load()+uint64(opt.Count), maxIndex)
		}
		stopProfile, err := startProfile(opt.CPUProfile)
		if err != nil {
			return sum, err
		}
		m := r.phase(ctx, limit, opt.Duration)
		if err := stopProfile(); err != nil {
			runErr = errors.Join(runErr, err)
		}
		unknown = append(unknown, m.unknown...)
		sum.Requests, sum.Transfers, sum.Errors, sum.Failed = m.requests, m.transfers, m.errors, m.failed
		for _, s := range m.unknown {
			sum.Unknown += int64(s.n)
		}
		sum.DurationS = m.took.Seconds()
		if m.took > 0 {
			sum.TransfersPerSec = float64(m.transfers) / m.took.Seconds()
		}
		sum.P50Ms = ms(m.hist.quantile(0.50))
		sum.P90Ms = ms(m.hist.quantile(0.90))
		sum.P99Ms = ms(m.hist.quantile(0.99))
		sum.P999Ms = ms(m.hist.quantile(0.999))
		sum.MaxMs = ms(m.hist.max)
		if m.lastErr != nil {
			fmt.Fprintf(out, "last error: %v\n", m.lastErr)
		}
	}
	switch {
	case ctx.Err() != nil:
		runErr = fmt.Errorf("bench: interrupted: %w", ctx.Err())
	case r.abort != nil:
		runErr = fmt.Errorf("bench: stopped after %d requests in a row failed: %w", opt.MaxErrors, r.abort)
	}

	if opt.AckedFile != "" {
		if err := r.writeAcked(opt.AckedFile); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}

	balances := "not checked (--skip-verify)"
	switch {
	case opt.SkipVerify:
	case ctx.Err() != nil:
		balances = "not checked: interrupted"
	default:
		checked, problems, err := r.verify(ctx, unknown)
		for i, p := range problems {
			if i == 20 {
				fmt.Fprintf(out, "balance: … %d more problems\n", len(problems)-i)
				break
			}
			fmt.Fprintf(out, "balance: %s\n", p)
		}
		switch {
		case err != nil:
			balances = "not checked: " + err.Error()
			runErr = errors.Join(runErr, fmt.Errorf("bench: balance check: %w", err))
		case len(problems) > 0:
			balances = fmt.Sprintf("WRONG: %d of %d accounts", len(problems), checked)
			runErr = errors.Join(runErr, fmt.Errorf("bench: %d of %d balances are wrong, first: %s", len(problems), checked, problems[0]))
		default:
			balances = fmt.Sprintf("ok: %d accounts match", checked)
			sum.BalanceOK = true
		}
	}
	sum.print(out, balances)
	return sum, runErr
}

func (s *Summary) print(out io.Writer, balances string) {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-12s "+format+"\n", append([]any{label}, args...)...)
	}
	line("scenario", "%s", s.Scenario)
	line("requests", "%d", s.Requests)
	line("transfers", "%d in %.3fs = %.1f/s", s.Transfers, s.DurationS, s.TransfersPerSec)
	line("errors", "%d (outcome unknown: %d transfers)", s.Errors, s.Unknown)
	line("failed", "%d", s.Failed)
	line("latency ms", "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f", s.P50Ms, s.P90Ms, s.P99Ms, s.P999Ms, s.MaxMs)
	line("balances", "%s", balances)
	j := *s
	for _, f := range []*float64{&j.DurationS, &j.TransfersPerSec, &j.P50Ms, &j.P90Ms, &j.P99Ms, &j.P999Ms, &j.MaxMs} {
		*f = math.Round(*f*1000) / 1000
	}
	enc, _ := json.Marshal(j) // plain fields: cannot fail
	b.Write(enc)
	b.WriteByte('\n')
	io.WriteString(out, b.String())
}

// newRun prepares the client: one transport with an idle connection kept
// for every worker, and a time limit on every request.
func newRun(opt Options) *run {
	tr := client.NewTransport()
	if n := opt.Concurrency + 16; n > tr.MaxIdleConnsPerHost {
		tr.MaxIdleConnsPerHost, tr.MaxIdleConns = n, n
	}
	tr.DisableCompression = true
	hc := &http.Client{Transport: tr, Timeout: opt.Timeout}
	h := fnv.New64a()
	h.Write([]byte(opt.RunID))
	return &run{
		opt:    opt,
		tr:     tr,
		c:      client.New(opt.URL, opt.Key, client.WithHTTPClient(hc), client.WithUserAgent("coffer-bench")),
		prefix: "bench-" + opt.RunID + "-",
		seed:   h.Sum64(),
	}
}

// startProfile starts a CPU profile into path (nothing if path is "") and
// returns the function that ends it.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		return nil
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
