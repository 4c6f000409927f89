package extwallet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/dialect/cmmp"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Mirror makes one merchant of this server a client of a main site's
// wallets: its CMMP checks and withdrawals happen on the main site, and
// its ledger holds a mirror of each main-site wallet (same name), brought
// to the main site's state at every check and withdrawal and by Refresh.
// The main site is the authority: a mirror is only as fresh as its last
// pull. It implements cmmp.External.
type Mirror struct {
	c          *Client
	wallets    *wallet.Service
	merchants  *merchant.Service
	merchantID int64
	log        *slog.Logger
	workers    int
	now        func() time.Time

	mu      sync.Mutex
	status  Status
	running bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// MirrorOptions tune a Mirror.
type MirrorOptions struct {
	Logger *slog.Logger // nil discards
	// Workers is how many wallets a refresh mirrors at once (default 32), so
	// that the ledger commits them in batches.
	Workers int
	Now     func() time.Time // nil is time.Now
}

// NewMirror returns the external wallet mode of merchantID over the main
// site c.
func NewMirror(c *Client, ws *wallet.Service, ms *merchant.Service, merchantID int64, opt MirrorOptions) *Mirror {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Workers <= 0 {
		opt.Workers = 32
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Mirror{c: c, wallets: ws, merchants: ms, merchantID: merchantID, log: opt.Logger, workers: opt.Workers, now: opt.Now,
		status: Status{State: StateIdle}}
}

// MerchantID is the merchant whose wallets are on the main site.
func (m *Mirror) MerchantID() int64 { return m.merchantID }

// Client is the main site's client.
func (m *Mirror) Client() *Client { return m.c }

// format is how the merchant reads points: its points' scale and the
// rounding of its CMMP gateway.
type format struct {
	scale    int
	rounding string
}

func (m *Mirror) format(ctx context.Context) (format, error) {
	a, err := m.wallets.Points(ctx, m.merchantID)
	if err != nil {
		return format{}, err
	}
	g, err := m.merchants.Gateway(ctx, m.merchantID, merchant.CMMP)
	if err != nil {
		return format{}, err
	}
	return format{scale: a.Scale, rounding: g.CMMP.Rounding}, nil
}

func newKey(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Pull reads a wallet from the main site — by this server's wallet id or
// name (ref), else by its owner's e-mail — and brings its mirror to the
// main site's state.
func (m *Mirror) Pull(ctx context.Context, ref, email string) (cmmp.Mirrored, error) {
	f, err := m.format(ctx)
	if err != nil {
		return cmmp.Mirrored{}, err
	}
	var rw Wallet
	if ref != "" {
		name := ref
		if len(ref) <= 19 {
			if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
				// A wallet id is this server's: its name is the main site's.
				w, err := m.wallets.Wallet(ctx, m.merchantID, id)
				if errors.Is(err, wallet.ErrWalletNotFound) || err == nil && w.Asset != wallet.PointsCode(m.merchantID) {
					return cmmp.Mirrored{}, &cmmp.Failure{Messages: []string{cmmp.MsgNoWallet}}
				}
				if err != nil {
					return cmmp.Mirrored{}, err
				}
				name = w.Name
			}
		}
		rw, err = m.c.WalletByName(ctx, name)
	} else {
		rw, err = m.c.WalletByEmail(ctx, email)
	}
	if err != nil {
		return cmmp.Mirrored{}, m.failure(err)
	}
	mm, _, err := m.apply(ctx, rw, f, 0, newKey("extwallet:"))
	return mm, err
}

// Withdraw withdraws points on the main site
// (withdraw_wallet_points_external), then reads the wallet again and
// records the withdrawal in the mirror. Once the main site has taken the
// points the withdrawal has happened: a failure to update the mirror is
// logged (the next pull or refresh repairs it), not answered.
func (m *Mirror) Withdraw(ctx context.Context, mm cmmp.Mirrored, points int64, key string) error {
	f, err := m.format(ctx)
	if err != nil {
		return err
	}
	name := mm.Wallet.Name
	if err := m.c.Withdraw(ctx, name, "1", money.Format(points, f.scale)); err != nil {
		return m.failure(err)
	}
	rw, err := m.c.WalletByName(ctx, name)
	if err != nil {
		// The main site took the points; assume nothing else changed there.
		m.log.WarnContext(ctx, "external wallet: withdrawn on the main site, but could not read the wallet again", "wallet", name, "err", err)
		rw = Wallet{WalletName: name, Points: cmmp.FormatPoints(mm.Points-points, f.scale), Status: cmmp.StatusInactive,
			UserID: strconv.FormatInt(mm.Wallet.CustomerID, 10)}
		if mm.Active {
			rw.Status = cmmp.StatusActive
		}
	}
	if _, _, err := m.apply(ctx, rw, f, points, key); err != nil {
		m.log.ErrorContext(ctx, "external wallet: withdrawn on the main site, but the mirror was not updated", "wallet", name, "err", err)
	}
	return nil
}

// apply mirrors a main-site wallet; withdrawn > 0 records a withdrawal.
func (m *Mirror) apply(ctx context.Context, rw Wallet, f format, withdrawn int64, key string) (cmmp.Mirrored, wallet.MirrorResult, error) {
	points, err := cmmp.ParsePoints(rw.Points, f.scale, f.rounding)
	if err != nil || points < 0 {
		return cmmp.Mirrored{}, wallet.MirrorResult{}, &cmmp.Failure{Messages: []string{cmmp.MsgMirrorProblem},
			Err: fmt.Errorf("wallet %s: the main site's points %q cannot be read", rw.WalletName, rw.Points)}
	}
	uid, _ := strconv.ParseInt(rw.UserID, 10, 64)
	active := cmmp.IsActive(rw.Status)
	res, err := m.wallets.Mirror(ctx, m.merchantID, wallet.MirrorParams{
		Name: rw.WalletName, CustomerID: uid, Email: rw.UserEmail, Balance: points, Active: active, Withdrawn: withdrawn, Key: key,
	})
	if err != nil {
		return cmmp.Mirrored{}, res, m.failure(err)
	}
	return cmmp.Mirrored{Wallet: res.Wallet, Points: points, Active: active}, res, nil
}

// failure turns an error of the main site or of the mirror into the
// answer of this server's CMMP call: the main site's own refusals about
// the wallet are passed on; trouble reaching it, or refusals of this
// server's key, are this server's problem, logged and answered as such.
func (m *Mirror) failure(err error) error {
	var re *RemoteError
	switch {
	case errors.As(err, &re):
		if re.Status == 200 && len(re.Messages) > 0 && !keyProblem(re.Messages) {
			return &cmmp.Failure{Messages: re.Messages}
		}
		return &cmmp.Failure{Messages: []string{cmmp.MsgExternalDown}, Err: err}
	case errors.Is(err, ErrUnreachable):
		return &cmmp.Failure{Messages: []string{cmmp.MsgExternalDown}, Err: err}
	case errors.Is(err, wallet.ErrMirrorConflict):
		return &cmmp.Failure{Messages: []string{cmmp.MsgMirrorProblem}, Err: err}
	}
	return err
}

// keyProblem reports whether the main site refused this server's key or
// gateway rather than the request.
func keyProblem(msgs []string) bool {
	for _, s := range msgs {
		switch s {
		case cmmp.MsgMissingKey, cmmp.MsgWrongKey, cmmp.MsgClosed:
			return true
		}
	}
	return false
}

// --- refresh ---

// Refresh states.
const (
	StateIdle    = "idle"    // no refresh since the server started
	StateRunning = "running" // a refresh is under way
	StateDone    = "done"    // the last refresh read every wallet of the main site
	StateFailed  = "failed"  // the last refresh stopped early (Error says why)
)

// Status is the progress or outcome of a refresh.
type Status struct {
	State      string     `json:"state"`
	MainSite   string     `json:"main_site"`
	MerchantID int64      `json:"merchant_id"` // whose wallets are on the main site
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Wallets    int64      `json:"wallets"`   // main-site wallets read so far
	Created    int64      `json:"created"`   // mirrored for the first time
	Updated    int64      `json:"updated"`   // balance or status brought to the main site's
	Unchanged  int64      `json:"unchanged"` // already in the main site's state
	Failed     int64      `json:"failed"`    // could not be mirrored (see Problems)
	// Problems describes the first failures (at most MaxProblems).
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"` // why the refresh stopped early
}

// MaxProblems bounds Status.Problems.
const MaxProblems = 20

// ErrRunning is returned by Refresh while another refresh runs, and
// ErrClosed once the Mirror is closed.
var (
	ErrRunning = errors.New("external wallet: a refresh is already running")
	ErrClosed  = errors.New("external wallet: closed")
)

// Status returns the progress of the running refresh, or the outcome of
// the last one.
func (m *Mirror) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshot()
}

func (m *Mirror) snapshot() Status {
	s := m.status
	s.MainSite, s.MerchantID = m.c.URL(), m.merchantID
	s.Problems = append([]string(nil), s.Problems...)
	return s
}

// Start begins a refresh in the background unless one is running, and
// returns its status.
func (m *Mirror) Start() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running || m.closed {
		return m.snapshot()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.begin(cancel)
	done := m.done
	go func() {
		defer close(done)
		_, _ = m.run(ctx)
	}()
	return m.snapshot()
}

// begin marks a refresh as running; m.mu is held.
func (m *Mirror) begin(cancel context.CancelFunc) {
	now := m.now().UTC()
	m.running, m.cancel, m.done = true, cancel, make(chan struct{})
	m.status = Status{State: StateRunning, StartedAt: &now}
}

// Refresh pulls every wallet of the main site into the mirror now, and
// returns the outcome. Mirrors of wallets the main site no longer lists
// are left as they are.
func (m *Mirror) Refresh(ctx context.Context) (Status, error) {
	m.mu.Lock()
	if m.running || m.closed {
		err := ErrRunning
		if m.closed {
			err = ErrClosed
		}
		s := m.snapshot()
		m.mu.Unlock()
		return s, err
	}
	ctx, cancel := context.WithCancel(ctx)
	m.begin(cancel)
	done := m.done
	m.mu.Unlock()
	defer close(done)
	return m.run(ctx)
}

// Close stops a running refresh and waits for it.
func (m *Mirror) Close() {
	m.mu.Lock()
	m.closed = true
	cancel, done, running := m.cancel, m.done, m.running
	m.mu.Unlock()
	if running {
		cancel()
		<-done
	}
}

// run refreshes; the caller has called begin.
func (m *Mirror) run(ctx context.Context) (Status, error) {
	defer func() {
		m.mu.Lock()
		m.running = false
		m.cancel()
		m.mu.Unlock()
	}()
	m.log.InfoContext(ctx, "external wallet: refresh started", "main_site", m.c.URL(), "merchant", m.merchantID)
	err := m.refresh(ctx)
	m.mu.Lock()
	now := m.now().UTC()
	m.status.FinishedAt = &now
	m.status.State = StateDone
	if err != nil {
		m.status.State, m.status.Error = StateFailed, err.Error()
	}
	s := m.snapshot()
	m.mu.Unlock()
	if err != nil {
		m.log.ErrorContext(ctx, "external wallet: refresh failed", "main_site", m.c.URL(), "wallets", s.Wallets, "err", err)
	} else {
		m.log.InfoContext(ctx, "external wallet: refresh done", "wallets", s.Wallets, "created", s.Created,
			"updated", s.Updated, "unchanged", s.Unchanged, "failed", s.Failed)
	}
	return s, err
}

func (m *Mirror) refresh(ctx context.Context) error {
	f, err := m.format(ctx)
	if err != nil {
		return err
	}
	run := newKey("")[:12]
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan Wallet, m.workers*4)
	var wg sync.WaitGroup
	for range m.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rw := range jobs {
				m.refreshOne(ctx, rw, f, run)
			}
		}()
	}
	err = m.c.Wallets(ctx, func(rw Wallet) error {
		m.mu.Lock()
		m.status.Wallets++
		m.mu.Unlock()
		select {
		case jobs <- rw:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	return err
}

func (m *Mirror) refreshOne(ctx context.Context, rw Wallet, f format, run string) {
	_, res, err := m.apply(ctx, rw, f, 0, "extwallet:refresh:"+run+":"+rw.WalletName)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.status.Failed++
		if len(m.status.Problems) < MaxProblems {
			m.status.Problems = append(m.status.Problems, fmt.Sprintf("wallet %q: %v", rw.WalletName, cause(err)))
		}
		return
	}
	switch {
	case res.Created:
		m.status.Created++
	case res.Change != 0 || res.StatusChanged:
		m.status.Updated++
	default:
		m.status.Unchanged++
	}
}

// cause is the detail of a failure for an operator.
func cause(err error) string {
	var f *cmmp.Failure
	if errors.As(err, &f) && f.Err != nil {
		return f.Err.Error()
	}
	var le *ledger.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return err.Error()
}

var _ cmmp.External = (*Mirror)(nil)
