// Package cmmp speaks the CM MicroPayments External API add-on
// (seeds/000): /wp-json/cmmpexapi/v1/wallet_has_enough_points,
// withdraw_wallet_points and charge_wallet, authenticated by the merchant's
// secure key, answering {"success":…,"message":[…]} — plus the four calls
// the base plugin's external-wallet mode makes to its main site
// (get_wallets, get_wallet_by_name, get_wallet,
// withdraw_wallet_points_external), so that a WordPress site, or another
// Coffer (package extwallet), can use this server's wallets. See README.md
// beside this file for the choices made where the document is silent.
package cmmp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffer-pay/coffer/internal/dialect"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Prefix is the path WordPress serves its REST API under; RouteParam is
// the query parameter that names a route without pretty permalinks
// (/?rest_route=/cmmpexapi/v1/…). Mount the handler at Prefix and route
// to it requests for "/" that carry RouteParam.
const (
	Prefix     = "/wp-json/"
	RouteParam = "rest_route"
	Namespace  = "/cmmpexapi/v1/"
)

// Deps are what the dialect calls.
type Deps struct {
	Merchants *merchant.Service
	Wallets   *wallet.Service
	Logger    *slog.Logger
	// RequestID returns the server's id of a request (server.RequestID). It
	// goes into the idempotency key of each write, so that an operator can
	// find a request's transfer from the access log. Nil leaves it out.
	RequestID func(context.Context) string
	// External, if set, makes this server a client of another site's
	// wallets for one merchant (external wallet mode, package extwallet).
	External External
	// PageSize is how many wallets get_wallets reads at a time (default
	// 500).
	PageSize int
}

// External is the external-wallet client mode as the handler uses it:
// for its merchant, wallets live on a main site; this server keeps a
// mirror of them in its own ledger.
type External interface {
	// MerchantID is the merchant whose wallets are external.
	MerchantID() int64
	// Pull reads a wallet from the main site — by this server's wallet id
	// or name (ref), else by its owner's e-mail — and brings the local
	// mirror to its state. Failures are *Failure values.
	Pull(ctx context.Context, ref, email string) (Mirrored, error)
	// Withdraw withdraws points (minor units) on the main site, then
	// records the withdrawal in the mirror and brings it to the main
	// site's new state. key is unique to this request.
	Withdraw(ctx context.Context, m Mirrored, points int64, key string) error
}

// Mirrored is a wallet of the main site and its local mirror.
type Mirrored struct {
	Wallet store.Wallet // the local mirror
	Points int64        // the main site's points, in minor units of the local points
	Active bool         // the main site's status
}

type handler struct{ Deps }

// NewHandler serves the add-on's routes under Prefix and by RouteParam.
func NewHandler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.PageSize <= 0 {
		d.PageSize = 500
	}
	h := &handler{d}
	return dialect.Handler(d.Logger, "cmmp", fail, h.serve)
}

// fail answers an error as {"success":false,"message":[…]}, HTTP 200.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var f *Failure
	if !errors.As(err, &f) {
		f = fail1(MsgInternal)
	}
	writeJSON(w, http.StatusOK, Result{Success: false, Message: f.Messages})
}

// OnPanic answers a panic outside the handler in the dialect's format.
func OnPanic(w http.ResponseWriter, r *http.Request) { fail(w, r, dialect.ErrInternal) }

// actions are the routes of the cmmpexapi/v1 namespace.
var actions = map[string]func(*handler, http.ResponseWriter, *http.Request, *call) error{
	"wallet_has_enough_points":        (*handler).hasEnough,
	"withdraw_wallet_points":          (*handler).withdraw,
	"charge_wallet":                   (*handler).charge,
	"get_wallets":                     (*handler).getWallets,
	"get_wallet_by_name":              (*handler).getWalletByName,
	"get_wallet":                      (*handler).getWallet,
	"withdraw_wallet_points_external": (*handler).withdraw,
}

// route returns the action a request names — by its path under Prefix,
// or by RouteParam on "/" — as WordPress matches routes: without a
// trailing slash, in any letter case.
func route(r *http.Request) (string, bool) {
	var rt string
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, Prefix):
		rt = p[len(Prefix)-1:]
	case p == "/" || p == "/index.php":
		vs := r.URL.Query()[RouteParam]
		if len(vs) == 0 {
			return "", false
		}
		rt = vs[len(vs)-1] // PHP keeps the last of a repeated parameter
	default:
		return "", false
	}
	rt = strings.TrimRight(rt, "/")
	if len(rt) <= len(Namespace) || !strings.EqualFold(rt[:len(Namespace)], Namespace) {
		return "", false
	}
	return strings.ToLower(rt[len(Namespace):]), true
}

// call is one authenticated request.
type call struct {
	gw      merchant.Gateway
	params  *dialect.Params
	scale   int    // the merchant's points scale
	asset   string // the merchant's points asset
	walletR string // wallet_id as sent
	email   string
}

// get is a parameter as WordPress resolves it: the body wins over the
// query string, and the last of a repeated one wins.
func (c *call) get(name string) string { return c.params.Last(name) }

func (h *handler) serve(w http.ResponseWriter, r *http.Request) error {
	action, ok := route(r)
	fn := actions[action]
	if !ok || fn == nil || r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeNoRoute(w)
		return nil
	}
	params, err := dialect.Parse(r, dialect.ParseOptions{JSON: true})
	if err != nil {
		var mb *http.MaxBytesError
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); !errors.As(err, &mb) &&
			(ct == "application/json" || strings.HasSuffix(ct, "+json")) {
			writeInvalidJSON(w)
			return nil
		}
		return fail1(MsgBadRequest)
	}
	c := &call{params: params}
	if c.gw, err = h.authenticate(r.Context(), c.get("key")); err != nil {
		return err
	}
	points, err := h.Wallets.Points(r.Context(), c.gw.MerchantID)
	if err != nil {
		return err
	}
	c.scale, c.asset = points.Scale, points.Code
	c.walletR, c.email = c.get("wallet_id"), c.get("email")
	return fn(h, w, r, c)
}

// authenticate finds the merchant of a secure key and checks that its
// gateway is open.
func (h *handler) authenticate(ctx context.Context, key string) (merchant.Gateway, error) {
	if key == "" {
		return merchant.Gateway{}, fail1(MsgMissingKey)
	}
	g, err := h.Merchants.Authenticate(ctx, merchant.CMMP, key)
	if errors.Is(err, merchant.ErrUnknownKey) {
		return g, fail1(MsgWrongKey)
	}
	if err != nil {
		return g, err
	}
	if !g.Open {
		return g, fail1(MsgClosed)
	}
	return g, nil
}

// amount reads the points of a movement: positive for a check or a
// withdrawal, non-zero for a charge.
func (c *call) amount(positive bool) (int64, error) {
	text := c.get("points")
	if c.walletR == "" && c.email == "" || strings.TrimSpace(text) == "" {
		return 0, fail1(MsgMissingArgs)
	}
	v, err := ParsePoints(text, c.scale, c.gw.CMMP.Rounding)
	switch err {
	case nil:
	case pointsPrecision:
		return 0, fail1(msgDecimals(c.scale))
	case pointsRange:
		return 0, fail1(msgRange(c.scale))
	default:
		return 0, fail1(MsgPointsNaN)
	}
	switch {
	case positive && v <= 0:
		return 0, fail1(MsgPointsPos)
	case v == 0:
		return 0, fail1(MsgPointsZero)
	}
	return v, nil
}

// external reports whether the call's merchant uses another site's
// wallets.
func (h *handler) external(c *call) bool {
	return h.External != nil && h.External.MerchantID() == c.gw.MerchantID
}

// wallet finds the wallet a call names: wallet_id (the numeric id or the
// 32-hex name) wins over email (the owner's points wallet).
func (h *handler) wallet(ctx context.Context, c *call) (store.Wallet, error) {
	mid := c.gw.MerchantID
	if c.walletR != "" {
		w, err := h.Wallets.WalletByRef(ctx, mid, c.walletR)
		if errors.Is(err, wallet.ErrWalletNotFound) || err == nil && w.Asset != c.asset {
			return w, fail1(MsgNoWallet)
		}
		return w, err
	}
	return h.walletByEmail(ctx, c, c.email)
}

func (h *handler) walletByEmail(ctx context.Context, c *call, email string) (store.Wallet, error) {
	cust, err := h.Wallets.CustomerByEmail(ctx, c.gw.MerchantID, email)
	if errors.Is(err, wallet.ErrCustomerNotFound) {
		return store.Wallet{}, fail1(MsgNoUser)
	}
	if err != nil {
		return store.Wallet{}, err
	}
	w, err := h.Wallets.CustomerWallet(ctx, c.gw.MerchantID, cust.ID, c.asset)
	if errors.Is(err, wallet.ErrWalletNotFound) {
		return w, fail1(MsgNoWallet)
	}
	return w, err
}

// domainError maps the wallet service's failures to the plugin's messages.
func domainError(err error, scale int) error {
	var f *Failure
	switch {
	case err == nil || errors.As(err, &f):
		return err
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return fail1(MsgNotEnough)
	case errors.Is(err, wallet.ErrWalletInactive):
		return fail1(MsgInactive)
	case errors.Is(err, wallet.ErrWalletNotFound):
		return fail1(MsgNoWallet)
	case errors.Is(err, ledger.ErrOverflow):
		return fail1(msgRange(scale))
	}
	var le *ledger.Error
	if errors.As(err, &le) && le.Kind == ledger.KindUnavailable {
		return &Failure{Messages: []string{MsgUnavailable}, Err: err}
	}
	return err // unexpected: logged by dialect.Handler, answered as internal
}

// opKey is a new idempotency key for one write: the API has none, so every
// request is a new movement.
func (h *handler) opKey(ctx context.Context) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	k := "cmmp:" + hex.EncodeToString(b[:])
	if h.RequestID == nil {
		return k
	}
	id := h.RequestID(ctx)
	if id == "" || len(id) > 64 {
		return k
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return k
		}
	}
	return k + ":" + id
}

// pullEnough reads the wallet a call names from the main site (external
// wallet mode) and checks, as the base plugin's hasEnoughPoints does, that
// it is active and holds amount.
func (h *handler) pullEnough(ctx context.Context, c *call, amount int64) (Mirrored, error) {
	m, err := h.External.Pull(ctx, c.walletR, c.email)
	switch {
	case err != nil:
		return m, domainError(err, c.scale)
	case !m.Active:
		return m, fail1(MsgInactive)
	case m.Points < amount:
		return m, fail1(MsgNotEnough)
	}
	return m, nil
}

// hasEnough is wallet_has_enough_points: "Check if there's enough points
// in a given wallet." Nothing changes.
func (h *handler) hasEnough(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	amount, err := c.amount(true)
	if err != nil {
		return err
	}
	if h.external(c) {
		if _, err := h.pullEnough(ctx, c, amount); err != nil {
			return err
		}
		writeOK(w)
		return nil
	}
	wl, err := h.wallet(ctx, c)
	if err != nil {
		return err
	}
	ok, err := h.Wallets.HasEnough(ctx, c.gw.MerchantID, wl.ID, amount)
	if err != nil {
		return domainError(err, c.scale)
	}
	if !ok {
		return fail1(MsgNotEnough)
	}
	writeOK(w)
	return nil
}

// withdraw is withdraw_wallet_points: "Withdraw points from wallet" — the
// points go to the merchant's revenue — and the external-wallet call
// withdraw_wallet_points_external (wallet_id is then the wallet's name;
// its "type" is the plugin's transaction type, which Coffer does not
// keep).
func (h *handler) withdraw(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	amount, err := c.amount(true)
	if err != nil {
		return err
	}
	key := h.opKey(ctx)
	if h.external(c) {
		m, err := h.pullEnough(ctx, c, amount)
		if err != nil {
			return err
		}
		if err := h.External.Withdraw(ctx, m, amount, key); err != nil {
			return domainError(err, c.scale)
		}
		writeOK(w)
		return nil
	}
	wl, err := h.wallet(ctx, c)
	if err != nil {
		return err
	}
	if _, err := h.Wallets.Withdraw(ctx, c.gw.MerchantID, wl.ID, amount, key); err != nil {
		return domainError(err, c.scale)
	}
	writeOK(w)
	return nil
}

// charge is charge_wallet: "the points are not transferred anywhere. They
// are either created or removed altogether" — from and to the merchant's
// mint account.
func (h *handler) charge(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	amount, err := c.amount(false)
	if err != nil {
		return err
	}
	if h.external(c) {
		return fail1(MsgChargeOnMain)
	}
	wl, err := h.wallet(ctx, c)
	if err != nil {
		return err
	}
	if _, err := h.Wallets.Charge(ctx, c.gw.MerchantID, wl.ID, amount, h.opKey(ctx)); err != nil {
		return domainError(err, c.scale)
	}
	writeOK(w)
	return nil
}

// object is a wallet as the plugin's wallets table has it.
func object(wi wallet.WalletInfo) WalletObject {
	status := StatusActive
	if wi.Wallet.Status != store.WalletActive {
		status = StatusInactive
	}
	return WalletObject{
		WalletID: strconv.FormatInt(wi.Wallet.ID, 10), UserID: strconv.FormatInt(wi.Wallet.CustomerID, 10), WalletName: wi.Wallet.Name,
		Points: FormatPoints(wi.Balance.Available, wi.Balance.Scale), Status: status, UserEmail: wi.Email,
	}
}

// getWallets is the external-wallet call get_wallets: every points wallet
// of the merchant, {"success":true,"message":[{…},…]}. The wallets are
// read a page at a time and written as they are read, so that memory stays
// flat however many there are.
func (h *handler) getWallets(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	f := store.WalletFilter{Asset: c.asset, Limit: h.PageSize}
	page, err := h.Wallets.WalletPage(ctx, c.gw.MerchantID, f)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["X-Content-Type-Options"] = hdrNosniff
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, `{"success":true,"message":[`...)
	for n := 0; ; {
		for _, wi := range page {
			if n > 0 {
				buf = append(buf, ',')
			}
			n++
			buf = appendObject(buf, object(wi))
			if len(buf) > 60<<10 {
				if _, err := w.Write(buf); err != nil {
					return nil // the client went away
				}
				buf = buf[:0]
			}
		}
		if len(page) < h.PageSize {
			break
		}
		f.AfterID = page[len(page)-1].Wallet.ID
		if page, err = h.Wallets.WalletPage(ctx, c.gw.MerchantID, f); err != nil {
			// The answer has begun: cut it short, so that the client sees
			// invalid JSON rather than a shorter list.
			h.Logger.ErrorContext(ctx, "cmmp get_wallets failed after the answer began", "merchant", c.gw.MerchantID, "err", err)
			_, _ = w.Write(buf)
			return nil
		}
	}
	buf = append(buf, "]}"...)
	_, _ = w.Write(buf)
	return nil
}

// appendObject appends o's JSON, keys in the plugin's column order.
func appendObject(b []byte, o WalletObject) []byte {
	b = append(b, `{"wallet_id":`...)
	b = strconv.AppendQuote(b, o.WalletID)
	b = append(b, `,"user_id":`...)
	b = strconv.AppendQuote(b, o.UserID)
	b = append(b, `,"wallet_name":`...)
	b = strconv.AppendQuote(b, o.WalletName)
	b = append(b, `,"points":`...)
	b = strconv.AppendQuote(b, o.Points)
	b = append(b, `,"status":`...)
	b = strconv.AppendQuote(b, o.Status)
	b = append(b, `,"user_email":`...)
	b = appendJSONString(b, o.UserEmail)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Ids, names, points and
// statuses are plain ASCII, so strconv.AppendQuote suits them; an e-mail
// may hold any text, so it goes through encoding/json's rules.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// getWalletByName is the external-wallet call get_wallet_by_name: the
// client reads a wallet before every check and after every withdrawal.
func (h *handler) getWalletByName(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	name := c.get("wallet_name")
	if name == "" {
		name = c.walletR
	}
	if name == "" {
		return fail1(MsgMissingName)
	}
	wl, err := h.Wallets.WalletByRef(ctx, c.gw.MerchantID, name)
	if errors.Is(err, wallet.ErrWalletNotFound) || err == nil && wl.Asset != c.asset {
		return fail1(MsgNoWallet)
	}
	if err != nil {
		return err
	}
	return h.writeWallet(ctx, w, wl)
}

// getWallet is the external-wallet call get_wallet: the wallet of the user
// with that e-mail (the client copies it for a new user).
func (h *handler) getWallet(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if c.email == "" {
		return fail1(MsgMissingEmail)
	}
	wl, err := h.walletByEmail(ctx, c, c.email)
	if err != nil {
		return err
	}
	return h.writeWallet(ctx, w, wl)
}

func (h *handler) writeWallet(ctx context.Context, w http.ResponseWriter, wl store.Wallet) error {
	b, err := h.Wallets.WalletBalance(ctx, wl)
	if err != nil {
		return err
	}
	cust, err := h.Wallets.Customer(ctx, wl.MerchantID, wl.CustomerID)
	if err != nil && !errors.Is(err, wallet.ErrCustomerNotFound) {
		return err
	}
	writeJSON(w, http.StatusOK, walletAnswer{Success: true, Message: object(wallet.WalletInfo{Wallet: wl, Balance: b, Email: cust.Email})})
	return nil
}
