package wallet

import (
	"context"
	"errors"
	"github.com/coffer-pay/coffer/internal/ledger"

	"github.com/coffer-pay/coffer/internal/store"
)

// WalletInfo is a wallet with its balance and its owner's e-mail.
type WalletInfo struct {
	Wallet  store.Wallet
	Balance Balance
	Email   string // the customer's e-mail, "" when none
}

// WalletPage lists a merchant's wallets as Wallets does, each with its
// balance and its owner's e-mail, in a few reads per page rather than two
// per wallet: wallets are made with their account and mostly in customer
// order, so a page's accounts and customers usually sit in one short id
// range, read at once; any left out are read one by one.
func (s *Service) WalletPage(ctx context.Context, merchantID int64, f store.WalletFilter) ([]WalletInfo, error) {
	ws, err := s.Wallets(ctx, merchantID, f)
	if err != nil || len(ws) == 0 {
		return nil, err
	}
	acctIDs := make([]int64, len(ws))
	custIDs := make([]int64, len(ws))
	for i, w := range ws {
		acctIDs[i], custIDs[i] = w.AccountID, w.CustomerID
	}
	accts := map[int64]store.Account{}
	if lo, hi, ok := span(acctIDs); ok {
		as, err := s.st.Accounts(ctx, store.AccountFilter{MerchantID: merchantID, AfterID: lo - 1, Limit: int(hi - lo + 1)})
		if err != nil {
			return nil, ledger.FromStore(err, nil)
		}
		for _, a := range as {
			accts[a.ID] = a
		}
	}
	emails := map[int64]string{}
	if lo, hi, ok := span(custIDs); ok {
		cs, err := s.st.Customers(ctx, store.CustomerFilter{MerchantID: merchantID, AfterID: lo - 1, Limit: int(hi - lo + 1)})
		if err != nil {
			return nil, ledger.FromStore(err, nil)
		}
		for _, c := range cs {
			emails[c.ID] = c.Email
		}
	}
	out := make([]WalletInfo, len(ws))
	for i, w := range ws {
		a, ok := accts[w.AccountID]
		if !ok {
			if a, err = s.st.Account(ctx, w.AccountID); err != nil {
				return nil, ledger.FromStore(err, ErrWalletNotFound)
			}
		}
		as, err := s.eng.Asset(ctx, w.Asset)
		if err != nil {
			return nil, err
		}
		b := Balance{Asset: w.Asset, Scale: as.Scale, Posted: a.CreditsPosted - a.DebitsPosted, Pending: a.DebitsPending}
		b.Available = b.Posted - b.Pending
		email, ok := emails[w.CustomerID]
		if !ok {
			c, err := s.st.Customer(ctx, merchantID, w.CustomerID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, ledger.FromStore(err, nil)
			}
			email = c.Email
			emails[w.CustomerID] = email
		}
		out[i] = WalletInfo{Wallet: w, Balance: b, Email: email}
	}
	return out, nil
}

// span returns the smallest and largest of ids, and whether reading that
// whole range is worth it (it is at most four times as long as the list).
func span(ids []int64) (lo, hi int64, ok bool) {
	lo, hi = ids[0], ids[0]
	for _, id := range ids {
		lo, hi = min(lo, id), max(hi, id)
	}
	return lo, hi, lo > 0 && hi-lo < int64(4*len(ids))
}
