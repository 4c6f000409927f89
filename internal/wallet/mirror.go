package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// External-wallet mode: a merchant's points wallets live on a main site
// (another Coffer, or a CM MicroPayments WordPress site) and this server
// keeps a mirror of each, found by the wallet's name. Mirror brings one
// mirror to the main site's state with ledger transfers against the
// merchant's points mint, so that the ledger stays balanced and every
// change has a journal entry.

// ErrMirrorConflict means a wallet of the main site cannot be mirrored:
// its name, owner or e-mail clashes with what this server holds.
var ErrMirrorConflict = &ledger.Error{Kind: ledger.KindConflict, Code: "mirror_conflict", Message: "the wallet cannot be mirrored"}

func mirrorConflict(format string, args ...any) error {
	e := *ErrMirrorConflict
	e.Message = fmt.Sprintf(format, args...)
	return &e
}

// MirrorParams describe a points wallet as the main site holds it.
type MirrorParams struct {
	Name string // the wallet's name, 32 hex characters (any case)
	// CustomerID and Email are its owner on the main site (user_id and
	// user_email). A wallet not mirrored yet goes to the customer with
	// that e-mail, else to the customer with that id, created if missing.
	CustomerID int64
	Email      string
	Balance    int64 // the main site's points, in minor units of the merchant's points
	Active     bool
	// Withdrawn, if positive, is a withdrawal made on the main site that
	// Balance already reflects: it is recorded here as a withdrawal (wallet
	// to revenue), and the mint makes up any other difference.
	Withdrawn int64
	// Key is unique to this call; the transfers' idempotency keys derive
	// from it (at most ledger.MaxKeyLen-9 bytes).
	Key string
}

// MirrorResult is what Mirror did.
type MirrorResult struct {
	Wallet  store.Wallet
	Created bool  // the wallet (and perhaps its customer) was created here
	Change  int64 // the balance change made against the mint (signed)
	// StatusChanged is true when the wallet was activated or deactivated.
	StatusChanged bool
}

// Mirror brings the mirror of a main site's wallet to p: it creates the
// wallet (and its customer) if this server does not have it, moves points
// from or to the mint until the balance is p.Balance, and sets the status.
// A mirror already in that state is left alone, with no transfer.
func (s *Service) Mirror(ctx context.Context, merchantID int64, p MirrorParams) (MirrorResult, error) {
	if !isWalletName(strings.ToLower(p.Name)) {
		return MirrorResult{}, mirrorConflict("wallet name %q is not 32 hexadecimal characters", p.Name)
	}
	p.Name = strings.ToLower(p.Name)
	if p.Balance < 0 || p.Withdrawn < 0 {
		return MirrorResult{}, mirrorConflict("wallet %s: negative points", p.Name)
	}
	if !ledger.ValidKey(p.Key) || len(p.Key) > ledger.MaxKeyLen-9 {
		return MirrorResult{}, invalid("key", "key must be 1-%d printable characters", ledger.MaxKeyLen-9)
	}
	email, err := NormalizeEmail(p.Email)
	if err != nil {
		email = "" // the main site's user has an address this server would refuse: mirror without it
	}
	asset, err := s.Points(ctx, merchantID)
	if err != nil {
		return MirrorResult{}, err
	}
	status := store.WalletInactive
	if p.Active {
		status = store.WalletActive
	}
	existing, err := s.st.WalletByName(ctx, p.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		existing = store.Wallet{}
	case err != nil:
		return MirrorResult{}, ledger.FromStore(err, nil)
	case existing.MerchantID != merchantID || existing.Asset != asset.Code:
		return MirrorResult{}, mirrorConflict("wallet name %s belongs to another merchant or asset here", p.Name)
	default:
		// Already in the main site's state: nothing to write.
		if b, err := s.WalletBalance(ctx, existing); err == nil && p.Withdrawn == 0 && b.Posted == p.Balance && existing.Status == status {
			return MirrorResult{Wallet: existing}, nil
		}
	}
	res, err := ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (MirrorResult, error) {
		var out MirrorResult
		tx := x.Tx()
		var w store.Wallet
		if existing.ID != 0 {
			var err error
			if w, err = tx.TxWallet(ctx, existing.ID); err != nil {
				return out, err
			}
		} else {
			cust, err := s.mirrorCustomer(ctx, x, p.CustomerID, email)
			if err != nil {
				return out, err
			}
			w, out.Created, err = s.openNamedWallet(ctx, x, cust.ID, asset, p.Name, status)
			if err != nil {
				return out, err
			}
			if w.Name != p.Name {
				return out, mirrorConflict("customer %d already has the points wallet %s here, not %s", cust.ID, w.Name, p.Name)
			}
		}
		acct, err := x.Account(w.AccountID)
		if err != nil {
			return out, err
		}
		mint, err := s.systemAccount(ctx, x, asset.Code, store.RoleMint)
		if err != nil {
			return out, err
		}
		// Before the withdrawal the wallet held Balance+Withdrawn; the mint
		// makes up the difference, then the withdrawal goes to revenue.
		out.Change = p.Balance + p.Withdrawn - (acct.CreditsPosted - acct.DebitsPosted)
		var reqs []ledger.TransferRequest
		switch {
		case out.Change > 0:
			reqs = append(reqs, ledger.TransferRequest{Key: p.Key + ":mint", Asset: asset.Code, Amount: out.Change, DebitAccountID: mint, CreditAccountID: w.AccountID})
		case out.Change < 0:
			reqs = append(reqs, ledger.TransferRequest{Key: p.Key + ":burn", Asset: asset.Code, Amount: -out.Change, DebitAccountID: w.AccountID, CreditAccountID: mint})
		}
		if p.Withdrawn > 0 {
			revenue, err := s.systemAccount(ctx, x, asset.Code, store.RoleRevenue)
			if err != nil {
				return out, err
			}
			reqs = append(reqs, ledger.TransferRequest{Key: p.Key + ":withdraw", Asset: asset.Code, Amount: p.Withdrawn, DebitAccountID: w.AccountID, CreditAccountID: revenue})
		}
		results, err := x.Transfer(reqs...)
		if err != nil {
			return out, err
		}
		for _, r := range results {
			if r.Err != nil && r.Err.Code != ledger.ErrLinkedFailed.Code {
				return out, r.Err
			}
		}
		for i, r := range results {
			if r.Replayed {
				continue
			}
			ev, amount := EventWalletCharged, reqs[i].Amount
			switch {
			case reqs[i].DebitAccountID == w.AccountID && reqs[i].CreditAccountID == mint:
				ev = EventWalletBurned
			case reqs[i].DebitAccountID == w.AccountID:
				ev = EventWalletWithdrawn
			}
			s.emit(x, ev, fmt.Sprintf("wallet:%d", w.ID), func() map[string]any {
				return map[string]any{"wallet_id": w.ID, "wallet_name": w.Name, "customer_id": w.CustomerID, "asset": w.Asset,
					"amount": money.Format(amount, asset.Scale), "transfer_id": r.Transfer.ID, "key": reqs[i].Key, "external": true}
			})
		}
		out.Wallet = w
		return out, nil
	})
	if err != nil {
		return res, err
	}
	if res.Wallet.Status != status {
		if err := s.st.SetWalletStatus(ctx, res.Wallet.ID, status); err != nil {
			return res, ledger.FromStore(err, ErrWalletNotFound)
		}
		res.Wallet.Status, res.StatusChanged = status, true
	}
	return res, nil
}

// mirrorCustomer finds or creates, in x's operation, the owner of a wallet
// the main site has and this server does not: the customer with that
// e-mail, else the one with that id (if its e-mail does not contradict),
// else a new customer with that id and e-mail.
func (s *Service) mirrorCustomer(ctx context.Context, x *ledger.Exec, id int64, email string) (store.Customer, error) {
	tx := x.Tx()
	mid := x.MerchantID()
	if email != "" {
		c, err := tx.TxCustomerByEmail(ctx, mid, email)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return c, err
		}
	}
	if id <= 0 {
		return store.Customer{}, mirrorConflict("the main site's wallet has no user id, and no customer here has its e-mail")
	}
	c, err := tx.TxCustomer(ctx, mid, id)
	switch {
	case err == nil:
		if c.Email != "" && email != "" && c.Email != email {
			return c, mirrorConflict("customer %d here has another e-mail than the main site's user %d", id, id)
		}
		return c, nil
	case !errors.Is(err, store.ErrNotFound):
		return c, err
	}
	c = store.Customer{MerchantID: mid, ID: id, Email: email, CreatedAt: x.Now()}
	if err := tx.InsertCustomer(ctx, &c); err != nil {
		return c, err
	}
	s.emit(x, EventCustomerCreated, fmt.Sprintf("customer:%d", c.ID), func() map[string]any {
		return map[string]any{"customer_id": c.ID}
	})
	return c, nil
}
