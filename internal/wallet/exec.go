package wallet

import (
	"context"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
)

// These let other domain packages (payments, orders, deposits) use wallets
// and system accounts inside their own ledger operation, so that a wallet
// opened on first payment commits with that payment.

// WalletIn returns the customer's wallet of asset, opening it in x's
// operation if it does not exist yet.
func (s *Service) WalletIn(ctx context.Context, x *ledger.Exec, customerID int64, asset store.Asset) (store.Wallet, error) {
	w, _, err := s.openWallet(ctx, x, customerID, asset)
	return w, err
}

// SystemAccountIn returns the merchant's system account of a role for an
// asset code, creating it in x's operation on first use.
func (s *Service) SystemAccountIn(ctx context.Context, x *ledger.Exec, asset, role string) (int64, error) {
	return s.systemAccount(ctx, x, asset, role)
}
