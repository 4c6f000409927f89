package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/store"
)

// Merchants, their users and gateways (per-dialect switch, settings and
// keys). Customers and wallets are in customers.go and wallets.go.

// merchantRoutes are the routes of the merchants' domain.
func merchantRoutes() []route {
	return []route{
		{Method: "POST", Path: "/coffer/v1/merchants", serve: (*handler).createMerchant},
		{Method: "GET", Path: "/coffer/v1/merchants", serve: (*handler).listMerchants},
		{Method: "GET", Path: "/coffer/v1/merchants/{id}", serve: (*handler).getMerchant},
		{Method: "POST", Path: "/coffer/v1/users", serve: (*handler).createUser},
		{Method: "GET", Path: "/coffer/v1/users", serve: (*handler).listUsers},
		{Method: "GET", Path: "/coffer/v1/gateways", serve: (*handler).listGateways},
		{Method: "GET", Path: "/coffer/v1/gateways/{dialect}", serve: (*handler).getGateway},
		{Method: "POST", Path: "/coffer/v1/gateways/{dialect}/open", serve: (*handler).openGateway},
		{Method: "POST", Path: "/coffer/v1/gateways/{dialect}/close", serve: (*handler).closeGateway},
		{Method: "POST", Path: "/coffer/v1/gateways/{dialect}/settings", serve: (*handler).gatewaySettings},
		{Method: "POST", Path: "/coffer/v1/gateways/{dialect}/key", serve: (*handler).rotateKey},
		{Method: "GET", Path: "/coffer/v1/points", serve: (*handler).getPoints},
		{Method: "POST", Path: "/coffer/v1/points", serve: (*handler).definePoints},
		{Method: "POST", Path: "/coffer/v1/customers", serve: (*handler).createCustomer},
		{Method: "GET", Path: "/coffer/v1/customers", serve: (*handler).listCustomers},
		{Method: "GET", Path: "/coffer/v1/customers/{id}", serve: (*handler).getCustomer},
		{Method: "POST", Path: "/coffer/v1/wallets", serve: (*handler).createWallet},
		{Method: "GET", Path: "/coffer/v1/wallets", serve: (*handler).listWallets},
		{Method: "GET", Path: "/coffer/v1/wallets/{id}", serve: (*handler).getWallet},
		{Method: "POST", Path: "/coffer/v1/wallets/{id}/status", serve: (*handler).setWalletStatus},
		{Method: "POST", Path: "/coffer/v1/wallets/{id}/charge", serve: (*handler).chargeWallet},
		{Method: "POST", Path: "/coffer/v1/wallets/{id}/withdraw", serve: (*handler).withdrawWallet},
	}
}

// MerchantHeader names the merchant an admin key acts on.
const MerchantHeader = "Coffer-Merchant"

var (
	errNotConfigured = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "this server does not serve merchants and wallets"}
	errAdminOnly     = &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "only an admin key may do this"}
)

// acting returns the merchant a request acts on: the key's own merchant,
// or, for an admin key, the one the Coffer-Merchant header names. A
// merchant key may only name its own merchant.
func (h *handler) acting(r *http.Request, key store.APIKey) (int64, error) {
	if h.merchants == nil || h.wallets == nil {
		return 0, errNotConfigured
	}
	v := r.Header.Get(MerchantHeader)
	if v == "" {
		return key.MerchantID, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: MerchantHeader,
			Message: "the Coffer-Merchant header must be a merchant id"}
	}
	if id == key.MerchantID {
		return id, nil
	}
	if key.Role != apikey.RoleAdmin {
		return 0, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "a merchant key acts only on its own merchant"}
	}
	if _, err := h.merchants.Get(r.Context(), id); err != nil {
		return 0, err
	}
	return id, nil
}

// --- merchants (admin keys) ---

type merchantJSON struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

func toMerchant(m store.Merchant) merchantJSON {
	return merchantJSON{ID: m.ID, Name: m.Name, CreatedAt: timeJSON(m.CreatedAt)}
}

type userJSON struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Role      string `json:"role"`
	CreatedAt string `json:"created_at"`
}

func toUser(u merchant.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, Role: u.Role, CreatedAt: timeJSON(u.CreatedAt)}
}

// newKeyJSON shows a new credential: the only time its secret is sent.
type newKeyJSON struct {
	Dialect string `json:"dialect"`
	KeyID   string `json:"key_id,omitempty"`
	Secret  string `json:"secret"`
	Hint    string `json:"hint,omitempty"`
	// PreviousValidUntil is set when the replaced key keeps working for a
	// grace period.
	PreviousValidUntil string `json:"previous_valid_until,omitempty"`
}

func toNewKey(k merchant.NewKey) newKeyJSON {
	out := newKeyJSON{Dialect: string(k.Dialect), KeyID: k.KeyID, Secret: k.Secret.Reveal(), Hint: k.Hint}
	if k.PreviousUntil != nil {
		out.PreviousValidUntil = timeJSON(*k.PreviousUntil)
	}
	return out
}

type createdMerchantJSON struct {
	merchantJSON
	User *userJSON `json:"user,omitempty"`
	// Credentials has every dialect's first key, by dialect. Gateways
	// start closed.
	Credentials map[string]newKeyJSON `json:"credentials"`
}

type createMerchantInput struct {
	Name     string `json:"name"`
	Username string `json:"username"`
}

// createMerchant answers POST /coffer/v1/merchants (admin keys).
func (h *handler) createMerchant(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if _, err := h.acting(r, key); err != nil {
		return err
	}
	if key.Role != apikey.RoleAdmin {
		return errAdminOnly
	}
	var in createMerchantInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	c, err := h.merchants.Create(r.Context(), merchant.CreateParams{Name: in.Name, Username: in.Username})
	if err != nil {
		return err
	}
	out := createdMerchantJSON{merchantJSON: toMerchant(c.Merchant), Credentials: map[string]newKeyJSON{}}
	if c.User != nil {
		u := toUser(*c.User)
		out.User = &u
	}
	for _, k := range c.Keys {
		out.Credentials[string(k.Dialect)] = toNewKey(k)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// listMerchants answers GET /coffer/v1/merchants (admin keys).
func (h *handler) listMerchants(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if _, err := h.acting(r, key); err != nil {
		return err
	}
	if key.Role != apikey.RoleAdmin {
		return errAdminOnly
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	ms, err := h.merchants.List(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out, _ := pageOf(ms, limit, func(m store.Merchant) int64 { return m.ID },
		func(m store.Merchant) (merchantJSON, error) { return toMerchant(m), nil })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pageOf encodes a page of rows read with limit+1 (so that a next page shows
// as one row too many), with the cursor of the next page.
func pageOf[T, J any](rows []T, limit int, id func(T) int64, enc func(T) (J, error)) (listJSON[J], error) {
	out := listJSON[J]{Data: make([]J, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			out.NextCursor = encodeCursor(id(rows[i-1]))
			break
		}
		j, err := enc(r)
		if err != nil {
			return out, err
		}
		out.Data = append(out.Data, j)
	}
	return out, nil
}

// getMerchant answers GET /coffer/v1/merchants/{id}: admin keys read any
// merchant, a merchant key its own.
func (h *handler) getMerchant(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if _, err := h.acting(r, key); err != nil {
		return err
	}
	id, ok := pathID(r)
	if !ok || key.Role != apikey.RoleAdmin && id != key.MerchantID {
		return notFound("merchant_not_found", "merchant not found")
	}
	m, err := h.merchants.Get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMerchant(m))
	return nil
}

// --- users ---

type createUserInput struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// createUser answers POST /coffer/v1/users: a login of the acting
// merchant (its admin user, or a reseller).
func (h *handler) createUser(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	var in createUserInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	u, err := h.merchants.CreateUser(r.Context(), mid, in.Username, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toUser(u))
	return nil
}

// listUsers answers GET /coffer/v1/users.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	us, err := h.merchants.Users(r.Context(), mid)
	if err != nil {
		return err
	}
	out := listJSON[userJSON]{Data: make([]userJSON, 0, len(us))}
	for _, u := range us {
		out.Data = append(out.Data, toUser(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// --- gateways ---

type keyInfoJSON struct {
	KeyID     string `json:"key_id,omitempty"`
	Hint      string `json:"hint,omitempty"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

type gatewayJSON struct {
	Dialect   string        `json:"dialect"`
	Open      bool          `json:"open"`
	Settings  any           `json:"settings"`
	Keys      []keyInfoJSON `json:"keys"`
	UpdatedAt string        `json:"updated_at,omitempty"`
}

func toGateway(g merchant.Gateway) gatewayJSON {
	out := gatewayJSON{Dialect: string(g.Dialect), Open: g.Open, Settings: g.Settings(), Keys: make([]keyInfoJSON, 0, len(g.Keys))}
	if !g.UpdatedAt.IsZero() {
		out.UpdatedAt = timeJSON(g.UpdatedAt)
	}
	for _, k := range g.Keys {
		ki := keyInfoJSON{KeyID: k.KeyID, Hint: k.Hint, CreatedAt: timeJSON(k.CreatedAt)}
		if k.ExpiresAt != nil {
			ki.ExpiresAt = timeJSON(*k.ExpiresAt)
		}
		out.Keys = append(out.Keys, ki)
	}
	return out
}

// dialectOf reads the {dialect} of the path for the acting merchant.
func (h *handler) dialectOf(r *http.Request, key store.APIKey) (int64, merchant.Dialect, error) {
	mid, err := h.acting(r, key)
	if err != nil {
		return 0, "", err
	}
	d, err := merchant.ParseDialect(r.PathValue("dialect"))
	return mid, d, err
}

// listGateways answers GET /coffer/v1/gateways: every dialect's gateway.
func (h *handler) listGateways(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, err := h.acting(r, key)
	if err != nil {
		return err
	}
	gs, err := h.merchants.Gateways(r.Context(), mid)
	if err != nil {
		return err
	}
	out := listJSON[gatewayJSON]{Data: make([]gatewayJSON, 0, len(gs))}
	for _, g := range gs {
		out.Data = append(out.Data, toGateway(g))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getGateway answers GET /coffer/v1/gateways/{dialect}.
func (h *handler) getGateway(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, d, err := h.dialectOf(r, key)
	if err != nil {
		return err
	}
	g, err := h.merchants.Gateway(r.Context(), mid, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGateway(g))
	return nil
}

func (h *handler) openGateway(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	return h.switchGateway(w, r, key, true)
}

func (h *handler) closeGateway(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	return h.switchGateway(w, r, key, false)
}

// switchGateway answers POST /coffer/v1/gateways/{dialect}/open and /close.
func (h *handler) switchGateway(w http.ResponseWriter, r *http.Request, key store.APIKey, open bool) error {
	mid, d, err := h.dialectOf(r, key)
	if err != nil {
		return err
	}
	g, err := h.merchants.SetOpen(r.Context(), mid, d, open)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGateway(g))
	return nil
}

// gatewaySettings answers POST /coffer/v1/gateways/{dialect}/settings: the
// body's fields replace those settings; the others stay.
func (h *handler) gatewaySettings(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, d, err := h.dialectOf(r, key)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return err
	}
	if !json.Valid(body) {
		return badJSON("", "the body must be a JSON object of the dialect's settings")
	}
	g, err := h.merchants.UpdateSettings(r.Context(), mid, d, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGateway(g))
	return nil
}

type rotateKeyInput struct {
	// GraceSeconds keeps the old key working that long (0: revoked at once).
	GraceSeconds int64 `json:"grace_seconds"`
	// Secret, if set, is the operator's own key (an existing integration's)
	// instead of a generated one; KeyID is webtv's key id with it.
	Secret string `json:"secret"`
	KeyID  string `json:"key_id"`
}

// rotateKey answers POST /coffer/v1/gateways/{dialect}/key: a new key
// (generated, or the given one) becomes current and is shown once.
func (h *handler) rotateKey(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	mid, d, err := h.dialectOf(r, key)
	if err != nil {
		return err
	}
	var in rotateKeyInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.GraceSeconds < 0 || in.GraceSeconds > int64(merchant.MaxGrace/time.Second) {
		return invalidField("grace_seconds", "grace_seconds must be between 0 and "+strconv.FormatInt(int64(merchant.MaxGrace/time.Second), 10))
	}
	grace := time.Duration(in.GraceSeconds) * time.Second
	var k merchant.NewKey
	if in.Secret == "" {
		if in.KeyID != "" {
			return invalidField("key_id", "key_id is given only with secret")
		}
		k, err = h.merchants.GenerateKey(r.Context(), mid, d, grace)
	} else {
		k, err = h.merchants.SetKey(r.Context(), mid, d, in.KeyID, config.Secret(in.Secret), grace)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toNewKey(k))
	return nil
}
