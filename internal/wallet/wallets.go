package wallet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// --- points ---

// PointsCode is the code of a merchant's points asset: "PTS.<merchant id>".
func PointsCode(merchantID int64) string { return "PTS." + strconv.FormatInt(merchantID, 10) }

// PointsScale is the scale of points with "decimal points" on.
const PointsScale = 2

// Points returns the merchant's points asset, defining it (whole points,
// scale 0) on first use.
func (s *Service) Points(ctx context.Context, merchantID int64) (store.Asset, error) {
	a, err := s.eng.Asset(ctx, PointsCode(merchantID))
	if errors.Is(err, ledger.ErrAssetNotFound) {
		return s.eng.DefineAsset(ctx, PointsCode(merchantID), 0)
	}
	return a, err
}

// DefinePoints defines the merchant's points asset with "decimal points"
// on (2 decimals) or off (whole points). The scale of an asset never
// changes: once defined (by this or by first use), defining it with the
// other scale is an asset_conflict error.
func (s *Service) DefinePoints(ctx context.Context, merchantID int64, decimal bool) (store.Asset, error) {
	scale := 0
	if decimal {
		scale = PointsScale
	}
	return s.eng.DefineAsset(ctx, PointsCode(merchantID), scale)
}

// resolveAsset returns the asset a merchant's wallet may hold: "" is the
// merchant's points; another merchant's points are refused.
func (s *Service) resolveAsset(ctx context.Context, merchantID int64, code string) (store.Asset, error) {
	if code == "" {
		return s.Points(ctx, merchantID)
	}
	if !money.ValidAssetCode(code) {
		return store.Asset{}, invalid("asset", "%q is not an asset code", code)
	}
	if strings.HasPrefix(code, "PTS.") {
		if code != PointsCode(merchantID) {
			return store.Asset{}, invalid("asset", "%s is another merchant's points", code)
		}
		return s.Points(ctx, merchantID)
	}
	return s.eng.Asset(ctx, code)
}

// --- system accounts ---

// systemSpec is how each role's account is opened.
var systemSpec = map[string]struct {
	normal    store.Side
	unlimited bool
}{
	store.RoleMint:     {store.Debit, true},
	store.RoleRevenue:  {store.Credit, false},
	store.RoleExternal: {store.Debit, true},
	store.RoleTax:      {store.Credit, false},
}

// systemAccount returns the merchant's account of a role for an asset,
// opening it in this operation if it does not exist yet. Two nodes racing
// to open it both insert; the loser's batch gets store.ErrRetry from the
// unique key, runs again and finds the winner's.
func (s *Service) systemAccount(ctx context.Context, x *ledger.Exec, asset, role string) (int64, error) {
	spec, ok := systemSpec[role]
	if !ok {
		return 0, invalid("role", "unknown system account role %q", role)
	}
	tx := x.Tx()
	id, err := tx.TxSystemAccount(ctx, x.MerchantID(), asset, role)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return id, err
	}
	a, err := x.OpenAccount(ledger.AccountRequest{Asset: asset, Name: role + " " + asset, Normal: spec.normal, Unlimited: spec.unlimited})
	if err != nil {
		return 0, err
	}
	if err := tx.InsertSystemAccount(ctx, store.SystemAccount{MerchantID: x.MerchantID(), Asset: asset, Role: role, AccountID: a.ID}); err != nil {
		return 0, err
	}
	return a.ID, nil
}

// SystemAccount returns the account id of the merchant's system account of
// a role (store.RoleMint, RoleRevenue, RoleExternal, RoleTax) for an asset
// ("" is the points), creating it on first use.
func (s *Service) SystemAccount(ctx context.Context, merchantID int64, asset, role string) (int64, error) {
	a, err := s.resolveAsset(ctx, merchantID, asset)
	if err != nil {
		return 0, err
	}
	return ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (int64, error) {
		return s.systemAccount(ctx, x, a.Code, role)
	})
}

// --- wallets ---

// NewWalletName returns a wallet name: 32 lowercase hex characters (128
// bits from crypto/rand).
func NewWalletName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// openWallet returns a customer's wallet of an asset, opening it (a
// credit-normal ledger account without overdraft, and the wallet row) in
// this operation if it does not exist.
func (s *Service) openWallet(ctx context.Context, x *ledger.Exec, customerID int64, asset store.Asset) (store.Wallet, bool, error) {
	return s.openNamedWallet(ctx, x, customerID, asset, "", store.WalletActive)
}

// openNamedWallet is openWallet with the name ("": a new one) and status
// of the wallet it opens (external-wallet mode mirrors another site's).
func (s *Service) openNamedWallet(ctx context.Context, x *ledger.Exec, customerID int64, asset store.Asset, name, status string) (store.Wallet, bool, error) {
	tx := x.Tx()
	w, err := tx.TxCustomerWallet(ctx, x.MerchantID(), customerID, asset.Code)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return w, false, err
	}
	if name == "" {
		name = NewWalletName()
	}
	a, err := x.OpenAccount(ledger.AccountRequest{Asset: asset.Code, Name: "wallet " + name, Normal: store.Credit})
	if err != nil {
		return w, false, err
	}
	w = store.Wallet{MerchantID: x.MerchantID(), CustomerID: customerID, Asset: asset.Code, AccountID: a.ID,
		Name: name, Status: status, CreatedAt: x.Now()}
	if err := tx.InsertWallet(ctx, &w); err != nil {
		return w, false, err
	}
	s.emit(x, EventWalletCreated, fmt.Sprintf("wallet:%d", w.ID), func() map[string]any {
		return map[string]any{"wallet_id": w.ID, "wallet_name": w.Name, "customer_id": customerID, "asset": asset.Code}
	})
	return w, true, nil
}

// CreateWallet opens a customer's wallet in an asset ("" is the merchant's
// points): a ledger account and the wallet row, committed together. A
// customer has one wallet per asset: if it exists, it is returned with
// created false.
func (s *Service) CreateWallet(ctx context.Context, merchantID, customerID int64, asset string) (w store.Wallet, created bool, err error) {
	a, err := s.resolveAsset(ctx, merchantID, asset)
	if err != nil {
		return store.Wallet{}, false, err
	}
	type result struct {
		w       store.Wallet
		created bool
	}
	r, err := ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (result, error) {
		if _, err := x.Tx().TxCustomer(ctx, merchantID, customerID); errors.Is(err, store.ErrNotFound) {
			return result{}, ErrCustomerNotFound
		} else if err != nil {
			return result{}, err
		}
		w, created, err := s.openWallet(ctx, x, customerID, a)
		return result{w, created}, err
	})
	return r.w, r.created, err
}

// Wallet returns a merchant's wallet by id; another merchant's is not
// found.
func (s *Service) Wallet(ctx context.Context, merchantID, id int64) (store.Wallet, error) {
	if id <= 0 {
		return store.Wallet{}, ErrWalletNotFound
	}
	w, err := s.st.Wallet(ctx, id)
	if err == nil && w.MerchantID != merchantID {
		return store.Wallet{}, ErrWalletNotFound
	}
	return w, ledger.FromStore(err, ErrWalletNotFound)
}

// WalletByName returns a merchant's wallet by its 32-hex-character name
// (in any case).
func (s *Service) WalletByName(ctx context.Context, merchantID int64, name string) (store.Wallet, error) {
	name = strings.ToLower(name)
	if !isWalletName(name) {
		return store.Wallet{}, ErrWalletNotFound
	}
	w, err := s.st.WalletByName(ctx, name)
	if err == nil && w.MerchantID != merchantID {
		return store.Wallet{}, ErrWalletNotFound
	}
	return w, ledger.FromStore(err, ErrWalletNotFound)
}

// WalletByRef returns a merchant's wallet by numeric id or by name, as CM
// MicroPayments' wallet_id accepts either. Ids have at most 19 digits and
// names 32 characters, so the two never collide.
func (s *Service) WalletByRef(ctx context.Context, merchantID int64, ref string) (store.Wallet, error) {
	if len(ref) <= 19 {
		if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
			return s.Wallet(ctx, merchantID, id)
		}
	}
	return s.WalletByName(ctx, merchantID, ref)
}

// WalletByEmail returns the wallet in an asset ("" is the points) of the
// merchant's customer with that e-mail.
func (s *Service) WalletByEmail(ctx context.Context, merchantID int64, email, asset string) (store.Wallet, error) {
	c, err := s.CustomerByEmail(ctx, merchantID, email)
	if errors.Is(err, ErrCustomerNotFound) {
		return store.Wallet{}, ErrWalletNotFound
	}
	if err != nil {
		return store.Wallet{}, err
	}
	return s.CustomerWallet(ctx, merchantID, c.ID, asset)
}

// CustomerWallet returns a customer's wallet in an asset ("" is the points).
func (s *Service) CustomerWallet(ctx context.Context, merchantID, customerID int64, asset string) (store.Wallet, error) {
	if asset == "" {
		asset = PointsCode(merchantID)
	}
	ws, err := s.st.Wallets(ctx, store.WalletFilter{MerchantID: merchantID, CustomerID: customerID, Asset: asset, Limit: 1})
	if err != nil {
		return store.Wallet{}, ledger.FromStore(err, nil)
	}
	if len(ws) == 0 {
		return store.Wallet{}, ErrWalletNotFound
	}
	return ws[0], nil
}

// Wallets lists a merchant's wallets in id order (f.MerchantID is set from
// merchantID).
func (s *Service) Wallets(ctx context.Context, merchantID int64, f store.WalletFilter) ([]store.Wallet, error) {
	f.MerchantID = merchantID
	ws, err := s.st.Wallets(ctx, f)
	return ws, ledger.FromStore(err, nil)
}

// SetActive activates or deactivates a wallet. An inactive wallet refuses
// withdrawals and charges (wallet_inactive); retries of requests it already
// answered still replay.
func (s *Service) SetActive(ctx context.Context, merchantID, walletID int64, active bool) (store.Wallet, error) {
	w, err := s.Wallet(ctx, merchantID, walletID)
	if err != nil {
		return w, err
	}
	w.Status = store.WalletInactive
	if active {
		w.Status = store.WalletActive
	}
	if err := s.st.SetWalletStatus(ctx, w.ID, w.Status); err != nil {
		return w, ledger.FromStore(err, ErrWalletNotFound)
	}
	return w, nil
}

func isWalletName(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// --- balances and movements ---

// Balance is a wallet's balance in minor units of its asset.
type Balance struct {
	Asset     string
	Scale     int
	Posted    int64 // credits − debits posted
	Pending   int64 // held by pending transfers
	Available int64 // Posted − Pending: what can be spent
}

// Balance returns a wallet's balance.
func (s *Service) Balance(ctx context.Context, merchantID, walletID int64) (Balance, error) {
	w, err := s.Wallet(ctx, merchantID, walletID)
	if err != nil {
		return Balance{}, err
	}
	return s.WalletBalance(ctx, w)
}

// WalletBalance returns the balance of a wallet already read.
func (s *Service) WalletBalance(ctx context.Context, w store.Wallet) (Balance, error) {
	a, err := s.st.Account(ctx, w.AccountID)
	if err != nil {
		return Balance{}, ledger.FromStore(err, ErrWalletNotFound)
	}
	as, err := s.eng.Asset(ctx, w.Asset)
	if err != nil {
		return Balance{}, err
	}
	// Counters are non-negative, so these differences cannot overflow.
	b := Balance{Asset: w.Asset, Scale: as.Scale, Posted: a.CreditsPosted - a.DebitsPosted, Pending: a.DebitsPending}
	b.Available = b.Posted - b.Pending
	return b, nil
}

// HasEnough reports whether a wallet's available balance covers amount
// (minor units). An inactive wallet is ErrWalletInactive.
func (s *Service) HasEnough(ctx context.Context, merchantID, walletID, amount int64) (bool, error) {
	w, err := s.Wallet(ctx, merchantID, walletID)
	if err != nil {
		return false, err
	}
	if w.Status != store.WalletActive {
		return false, ErrWalletInactive
	}
	b, err := s.WalletBalance(ctx, w)
	if err != nil {
		return false, err
	}
	return b.Available >= amount, nil
}

// Receipt is the outcome of a movement.
type Receipt struct {
	Wallet   store.Wallet
	Transfer store.Transfer
	// Replayed is true when the key had been used before with the same
	// request: nothing new happened, and this is the original outcome.
	Replayed bool
}

// Withdraw takes amount (minor units, > 0) out of a wallet into the
// merchant's revenue account for the wallet's asset: the customer pays for
// something. A wallet with too little is ledger.ErrInsufficientFunds.
func (s *Service) Withdraw(ctx context.Context, merchantID, walletID, amount int64, key string) (Receipt, error) {
	if amount <= 0 {
		return Receipt{}, ledger.ErrInvalidAmount
	}
	return s.move(ctx, merchantID, walletID, key, store.RoleRevenue, amount, false, EventWalletWithdrawn)
}

// Charge creates points (or money) in a wallet when amount > 0 (the mint
// issues them) and destroys them when amount < 0 (they go back to the
// mint), refused with ledger.ErrInsufficientFunds if the wallet has too
// little. Zero is ledger.ErrInvalidAmount.
func (s *Service) Charge(ctx context.Context, merchantID, walletID, amount int64, key string) (Receipt, error) {
	switch {
	case amount > 0:
		return s.move(ctx, merchantID, walletID, key, store.RoleMint, amount, true, EventWalletCharged)
	case amount < 0 && amount != math.MinInt64:
		return s.move(ctx, merchantID, walletID, key, store.RoleMint, -amount, false, EventWalletBurned)
	}
	return Receipt{}, ledger.ErrInvalidAmount
}

// Deposit credits a wallet with money that entered from outside, from the
// merchant's external account for the asset.
func (s *Service) Deposit(ctx context.Context, merchantID, walletID, amount int64, key string) (Receipt, error) {
	if amount <= 0 {
		return Receipt{}, ledger.ErrInvalidAmount
	}
	return s.move(ctx, merchantID, walletID, key, store.RoleExternal, amount, true, EventWalletDeposited)
}

// move transfers amount between a wallet and a system account, as one
// ledger operation keyed by key. A business failure of the transfer (such
// as insufficient funds) is recorded under the key, so that a retry with
// the same key answers the same failure, and returned as the error.
func (s *Service) move(ctx context.Context, merchantID, walletID int64, key, role string, amount int64, toWallet bool, event string) (Receipt, error) {
	if !ledger.ValidKey(key) {
		return Receipt{}, invalid("key", "key must be 1-%d printable characters", ledger.MaxKeyLen)
	}
	type outcome struct {
		r   Receipt
		err *ledger.Error
	}
	o, err := ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (outcome, error) {
		tx := x.Tx()
		w, err := tx.TxWallet(ctx, walletID)
		if errors.Is(err, store.ErrNotFound) || err == nil && w.MerchantID != merchantID {
			return outcome{}, ErrWalletNotFound
		}
		if err != nil {
			return outcome{}, err
		}
		if w.Status != store.WalletActive {
			// A request that already has an outcome replays it.
			recs, err := tx.LookupKeys(ctx, []store.MerchantKey{{MerchantID: merchantID, Key: key}})
			if err != nil {
				return outcome{}, err
			}
			if len(recs) == 0 {
				return outcome{}, ErrWalletInactive
			}
		}
		sys, err := s.systemAccount(ctx, x, w.Asset, role)
		if err != nil {
			return outcome{}, err
		}
		req := ledger.TransferRequest{Key: key, Asset: w.Asset, Amount: amount, DebitAccountID: w.AccountID, CreditAccountID: sys}
		if toWallet {
			req.DebitAccountID, req.CreditAccountID = sys, w.AccountID
		}
		res, err := x.Transfer(req)
		if err != nil {
			return outcome{}, err
		}
		r := res[0]
		if r.Err == nil && !r.Replayed {
			s.emit(x, event, fmt.Sprintf("wallet:%d", w.ID), func() map[string]any {
				amt := strconv.FormatInt(amount, 10)
				if a, err := s.eng.Asset(ctx, w.Asset); err == nil {
					amt = money.Format(amount, a.Scale)
				}
				return map[string]any{"wallet_id": w.ID, "wallet_name": w.Name, "customer_id": w.CustomerID, "asset": w.Asset,
					"amount": amt, "transfer_id": r.Transfer.ID, "key": key}
			})
		}
		return outcome{r: Receipt{Wallet: w, Transfer: r.Transfer, Replayed: r.Replayed}, err: r.Err}, nil
	})
	if err != nil {
		return Receipt{}, err
	}
	if o.err != nil {
		return o.r, o.err
	}
	return o.r, nil
}

// emit records an outbox event in the operation if the merchant listens
// for its type. payload is built only then; our maps always encode.
func (s *Service) emit(x *ledger.Exec, typ, subject string, payload func() map[string]any) {
	if s.wants == nil || !s.wants(x.MerchantID(), typ) {
		return
	}
	b, _ := json.Marshal(payload())
	x.Emit(store.Event{Type: typ, Subject: subject, Payload: b})
}
