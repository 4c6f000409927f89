// Package api is Coffer's native JSON API, served under /coffer/v1/.
//
// Every handler is a method that returns an error; fail (errors.go) is the
// one place that turns errors into HTTP answers. One route table (routes)
// feeds both the ServeMux and the test that holds the OpenAPI document and
// the handler to each other.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Prefix is the path prefix of the native API.
const Prefix = "/coffer/v1/"

// Body limits.
const (
	maxBody      = 1 << 20  // 1 MiB for single requests
	maxBatchBody = 16 << 20 // 16 MiB for batches
)

// Config is what the API needs.
type Config struct {
	Engine *ledger.Engine
	Logger *slog.Logger // nil discards
	// KeyCacheTTL is how long a verified API key is trusted without reading
	// the store again, so that a revoked key may keep working that long.
	// Zero means 5 seconds; negative disables the cache.
	KeyCacheTTL time.Duration
	// Now is the clock of the key cache; nil means time.Now.
	Now func() time.Time
	// Merchants and Wallets serve the merchants' routes (merchants.go);
	// without them those routes answer 503.
	Merchants *merchant.Service
	Wallets   *wallet.Service
	// Webhooks serves webhook endpoints, events and deliveries
	// (webhooks.go); without it those routes answer 503.
	Webhooks *notify.Service
	// Payments and Rates serve payments and exchange rates (payments.go);
	// without them those routes answer 503.
	Payments *payment.Service
	Rates    *pricing.Rates
	// ExternalWallet serves the external wallet refresh (extwallet.go)
	// when this server is a client of a main site's wallets; without it
	// those routes answer 409.
	ExternalWallet ExternalWallet
	// Deposits serves payee details, incoming transactions and claims
	// (deposits.go); without it those routes answer 503.
	Deposits *deposit.Service
}

type handler struct {
	engine *ledger.Engine
	st     store.Store
	log    *slog.Logger
	keys   *keyCache

	merchants *merchant.Service
	wallets   *wallet.Service
	webhooks  *notify.Service
	payments  *payment.Service
	rates     *pricing.Rates
	extWallet ExternalWallet
	deposits  *deposit.Service
}

// handlerFunc is a route's handler. key is the caller's verified API key
// (the zero value on public routes).
type handlerFunc func(h *handler, w http.ResponseWriter, r *http.Request, key store.APIKey) error

// route is one entry of the route table. Path uses the ServeMux wildcard
// syntax, which is also OpenAPI's path template syntax.
type route struct {
	Method string
	Path   string
	Public bool // served without an API key
	serve  handlerFunc
}

// routes is the single route table: New registers it, and the OpenAPI test
// checks it against openapi.json in both directions.
func routes() []route {
	return append([]route{
		{Method: "GET", Path: "/coffer/v1/openapi.json", Public: true, serve: (*handler).openAPI},
		{Method: "POST", Path: "/coffer/v1/assets", serve: (*handler).createAsset},
		{Method: "GET", Path: "/coffer/v1/assets", serve: (*handler).listAssets},
		{Method: "POST", Path: "/coffer/v1/accounts", serve: (*handler).createAccount},
		{Method: "GET", Path: "/coffer/v1/accounts", serve: (*handler).listAccounts},
		{Method: "GET", Path: "/coffer/v1/accounts/{id}", serve: (*handler).getAccount},
		{Method: "GET", Path: "/coffer/v1/accounts/{id}/transfers", serve: (*handler).accountTransfers},
		{Method: "POST", Path: "/coffer/v1/transfers", serve: (*handler).createTransfer},
		{Method: "GET", Path: "/coffer/v1/transfers", serve: (*handler).lookupTransfer},
		{Method: "POST", Path: "/coffer/v1/transfers/batch", serve: (*handler).createBatch},
		{Method: "GET", Path: "/coffer/v1/transfers/{id}", serve: (*handler).getTransfer},
		{Method: "POST", Path: "/coffer/v1/transfers/{id}/post", serve: (*handler).postPending},
		{Method: "POST", Path: "/coffer/v1/transfers/{id}/void", serve: (*handler).voidPending},
	}, slices.Concat(merchantRoutes(), webhookRoutes(), paymentRoutes(), externalWalletRoutes(), depositRoutes())...)
}

// New returns the native API's handler. Mount it at Prefix.
func New(cfg Config) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ttl := cfg.KeyCacheTTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	h := &handler{
		engine: cfg.Engine,
		st:     cfg.Engine.Store(),
		log:    log,
		keys:   &keyCache{ttl: ttl, now: now, m: map[[sha256.Size]byte]cachedKey{}},

		merchants: cfg.Merchants,
		wallets:   cfg.Wallets,
		webhooks:  cfg.Webhooks,
		payments:  cfg.Payments,
		rates:     cfg.Rates,
		extWallet: cfg.ExternalWallet,
		deposits:  cfg.Deposits,
	}
	mux := http.NewServeMux()
	methods := map[string]bool{}
	for _, rt := range routes() {
		mux.Handle(rt.Method+" "+rt.Path, h.wrap(rt))
		methods[rt.Method] = true
	}
	// Anything else under the prefix gets a JSON 404, or a 405 naming the
	// methods the path does have.
	mux.Handle(Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{"GET", "POST"} {
			if !methods[m] || m == r.Method {
				continue
			}
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pattern := mux.Handler(r2); pattern != Prefix && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			h.fail(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed here; use " + strings.Join(allow, " or ")})
			return
		}
		h.fail(w, r, &apiError{Status: http.StatusNotFound, Code: "no_route", Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	}))
	return mux
}

func (h *handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key store.APIKey
		if !rt.Public {
			k, err := h.authenticate(r.Context(), r)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			key = k
		}
		if err := rt.serve(h, w, r, key); err != nil {
			h.fail(w, r, err)
		}
	})
}

// errUnauthorized answers every authentication failure alike.
var errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "a valid API key is required: Authorization: Bearer ck_…"}

// authenticate checks the request's bearer key.
func (h *handler) authenticate(ctx context.Context, r *http.Request) (store.APIKey, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return store.APIKey{}, errUnauthorized
	}
	token = strings.TrimSpace(token)
	sum := sha256.Sum256([]byte(token))
	if k, ok := h.keys.get(sum); ok {
		return k, nil
	}
	k, err := apikey.Verify(ctx, h.st, token)
	switch {
	case errors.Is(err, apikey.ErrMalformed), errors.Is(err, apikey.ErrUnknown), errors.Is(err, apikey.ErrRevoked):
		return store.APIKey{}, errUnauthorized
	case err != nil:
		return store.APIKey{}, err
	}
	h.keys.put(sum, k)
	return k, nil
}

// keyCache remembers verified keys for a short time, so that the hot path
// of a transfer does not read the key table on every request.
type keyCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]cachedKey
}

type cachedKey struct {
	key     store.APIKey
	expires time.Time
}

// maxCachedKeys bounds the cache; when full it starts over.
const maxCachedKeys = 4096

func (c *keyCache) get(sum [sha256.Size]byte) (store.APIKey, bool) {
	if c.ttl < 0 {
		return store.APIKey{}, false
	}
	c.mu.RLock()
	e, ok := c.m[sum]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return store.APIKey{}, false
	}
	return e.key, true
}

func (c *keyCache) put(sum [sha256.Size]byte, k store.APIKey) {
	if c.ttl < 0 {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[sum] = cachedKey{key: k, expires: c.now().Add(c.ttl)}
	c.mu.Unlock()
}
