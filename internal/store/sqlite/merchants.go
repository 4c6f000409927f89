package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// The merchants' domain: users, gateways, credentials, customers, wallets
// and system accounts (migrations/0003_merchants.sql).

// --- merchants and their users ---

// Merchants lists merchants in id order.
func (s *Store) Merchants(ctx context.Context, afterID int64, limit int) ([]store.Merchant, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, name, created_at FROM merchants WHERE id > ? ORDER BY id LIMIT ?`, afterID, limitOf(limit))
	return collect(rows, err, func(r scanner) (store.Merchant, error) {
		var m store.Merchant
		var created int64
		err := r.Scan(&m.ID, &m.Name, &created)
		m.CreatedAt = fromMicros(created)
		return m, translate(err)
	})
}

const userCols = `id, merchant_id, username, role, created_at`

func scanUser(r scanner) (store.MerchantUser, error) {
	var u store.MerchantUser
	var created int64
	err := r.Scan(&u.ID, &u.MerchantID, &u.Username, &u.Role, &created)
	u.CreatedAt = fromMicros(created)
	return u, translate(err)
}

// InsertMerchantUser inserts a user and sets u.ID.
func (s *Store) InsertMerchantUser(ctx context.Context, u *store.MerchantUser) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO merchant_users (merchant_id, username, role, created_at) VALUES (?, ?, ?, ?)`,
		u.MerchantID, u.Username, u.Role, micros(u.CreatedAt))
	if err != nil {
		return translate(err)
	}
	u.ID, err = res.LastInsertId()
	return translate(err)
}

// MerchantUser reads a user by id.
func (s *Store) MerchantUser(ctx context.Context, id int64) (store.MerchantUser, error) {
	return scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userCols+` FROM merchant_users WHERE id = ?`, id))
}

// MerchantUserByName reads a user by username.
func (s *Store) MerchantUserByName(ctx context.Context, username string) (store.MerchantUser, error) {
	return scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userCols+` FROM merchant_users WHERE username = ?`, username))
}

// MerchantUsers lists a merchant's users in id order.
func (s *Store) MerchantUsers(ctx context.Context, merchantID int64) ([]store.MerchantUser, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+userCols+` FROM merchant_users WHERE merchant_id = ? ORDER BY id`, merchantID)
	return collect(rows, err, scanUser)
}

// --- gateways and credentials ---

func scanGateway(r scanner) (store.Gateway, error) {
	var g store.Gateway
	var open int
	var settings string
	var updated int64
	err := r.Scan(&g.MerchantID, &g.Dialect, &open, &settings, &updated)
	g.Open = open != 0
	g.Settings = []byte(settings)
	g.UpdatedAt = fromMicros(updated)
	return g, translate(err)
}

// Gateway reads a merchant's gateway row for a dialect.
func (s *Store) Gateway(ctx context.Context, merchantID int64, dialect string) (store.Gateway, error) {
	return scanGateway(s.reader.QueryRowContext(ctx,
		`SELECT merchant_id, dialect, open, settings, updated_at FROM gateways WHERE merchant_id = ? AND dialect = ?`, merchantID, dialect))
}

// Gateways lists a merchant's gateway rows by dialect.
func (s *Store) Gateways(ctx context.Context, merchantID int64) ([]store.Gateway, error) {
	rows, err := s.reader.QueryContext(ctx,
		`SELECT merchant_id, dialect, open, settings, updated_at FROM gateways WHERE merchant_id = ? ORDER BY dialect`, merchantID)
	return collect(rows, err, scanGateway)
}

// SaveGateway inserts or replaces a gateway row.
func (s *Store) SaveGateway(ctx context.Context, g store.Gateway) error {
	open := 0
	if g.Open {
		open = 1
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO gateways (merchant_id, dialect, open, settings, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (merchant_id, dialect) DO UPDATE SET open = excluded.open, settings = excluded.settings, updated_at = excluded.updated_at`,
		g.MerchantID, g.Dialect, open, string(g.Settings), micros(g.UpdatedAt))
	return translate(err)
}

const credentialCols = `id, merchant_id, dialect, lookup, sealed, hint, created_at, expires_at`

func scanCredential(r scanner) (store.Credential, error) {
	var c store.Credential
	var lookup sql.NullString
	var created int64
	var expires sql.NullInt64
	err := r.Scan(&c.ID, &c.MerchantID, &c.Dialect, &lookup, &c.Sealed, &c.Hint, &created, &expires)
	c.Lookup = lookup.String
	if len(c.Sealed) == 0 {
		c.Sealed = nil
	}
	c.CreatedAt = fromMicros(created)
	c.ExpiresAt = ptrMicros(expires)
	return c, translate(err)
}

// ReplaceCredential makes c the current credential of its merchant and
// dialect; see store.MerchantStore.
func (s *Store) ReplaceCredential(ctx context.Context, c *store.Credential, now time.Time, graceUntil *time.Time) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE merchant_id = ? AND dialect = ? AND expires_at IS NOT NULL AND expires_at <= ?`,
		c.MerchantID, c.Dialect, micros(now)); err != nil {
		return translate(err)
	}
	if graceUntil != nil && graceUntil.After(now) {
		_, err = tx.ExecContext(ctx, `UPDATE credentials SET expires_at = ? WHERE merchant_id = ? AND dialect = ? AND expires_at IS NULL`,
			micros(*graceUntil), c.MerchantID, c.Dialect)
	} else {
		_, err = tx.ExecContext(ctx, `DELETE FROM credentials WHERE merchant_id = ? AND dialect = ?`, c.MerchantID, c.Dialect)
	}
	if err != nil {
		return translate(err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO credentials (merchant_id, dialect, lookup, sealed, hint, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL)`,
		c.MerchantID, c.Dialect, nullStr(c.Lookup), nullBlob(c.Sealed), c.Hint, micros(c.CreatedAt))
	if err != nil {
		return translate(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return translate(err)
	}
	if err := translate(tx.Commit()); err != nil {
		return err
	}
	c.ID, c.ExpiresAt = id, nil
	return nil
}

// CredentialByLookup finds a dialect's credential valid at now by lookup.
func (s *Store) CredentialByLookup(ctx context.Context, dialect, lookup string, now time.Time) (store.Credential, error) {
	return scanCredential(s.reader.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM credentials
		WHERE dialect = ? AND lookup = ? AND (expires_at IS NULL OR expires_at > ?)`, dialect, lookup, micros(now)))
}

// Credentials lists a merchant's valid credentials of a dialect, current first.
func (s *Store) Credentials(ctx context.Context, merchantID int64, dialect string, now time.Time) ([]store.Credential, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+credentialCols+` FROM credentials
		WHERE merchant_id = ? AND dialect = ? AND (expires_at IS NULL OR expires_at > ?)
		ORDER BY expires_at IS NOT NULL, expires_at DESC, id DESC`, merchantID, dialect, micros(now))
	return collect(rows, err, scanCredential)
}

// --- customers ---

const customerCols = `merchant_id, id, email, label, currency, owner_id, tax_rate, created_at`

func scanCustomer(r scanner) (store.Customer, error) {
	var c store.Customer
	var email, label sql.NullString
	var owner, tax sql.NullInt64
	var created int64
	err := r.Scan(&c.MerchantID, &c.ID, &email, &label, &c.Currency, &owner, &tax, &created)
	c.Email, c.Label, c.OwnerID = email.String, label.String, owner.Int64
	if tax.Valid {
		c.TaxRate = &tax.Int64
	}
	c.CreatedAt = fromMicros(created)
	return c, translate(err)
}

// Customer reads a customer.
func (s *Store) Customer(ctx context.Context, merchantID, id int64) (store.Customer, error) {
	return scanCustomer(s.reader.QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// Customers lists a merchant's customers in id order.
func (s *Store) Customers(ctx context.Context, f store.CustomerFilter) ([]store.Customer, error) {
	q := `SELECT ` + customerCols + ` FROM customers WHERE merchant_id = ? AND id > ?`
	args := []any{f.MerchantID, f.AfterID}
	if f.Email != "" {
		q += ` AND email = ?`
		args = append(args, f.Email)
	}
	if f.Label != "" {
		q += ` AND label = ?`
		args = append(args, f.Label)
	}
	if f.OwnerID != 0 {
		q += ` AND owner_id = ?`
		args = append(args, f.OwnerID)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limitOf(f.Limit))
	rows, err := s.reader.QueryContext(ctx, q, args...)
	return collect(rows, err, scanCustomer)
}

// TxCustomer reads a customer inside the batch.
func (t *Tx) TxCustomer(ctx context.Context, merchantID, id int64) (store.Customer, error) {
	return scanCustomer(t.tx.QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// TxCustomerByEmail reads a customer by its (lowercased) e-mail inside the batch.
func (t *Tx) TxCustomerByEmail(ctx context.Context, merchantID int64, email string) (store.Customer, error) {
	return scanCustomer(t.tx.QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND email = ?`, merchantID, email))
}

// TxCustomerByLabel reads a customer by its label inside the batch.
func (t *Tx) TxCustomerByLabel(ctx context.Context, merchantID int64, label string) (store.Customer, error) {
	return scanCustomer(t.tx.QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND label = ?`, merchantID, label))
}

// InsertCustomer inserts a customer; a unique key already taken is ErrRetry.
func (t *Tx) InsertCustomer(ctx context.Context, c *store.Customer) error {
	var tax any
	if c.TaxRate != nil {
		tax = *c.TaxRate
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO customers (`+customerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.MerchantID, c.ID, nullStr(c.Email), nullStr(c.Label), c.Currency, nullID(c.OwnerID), tax, micros(c.CreatedAt))
	return raced(translate(err))
}

// --- wallets ---

const walletCols = `id, merchant_id, customer_id, asset, account_id, name, status, created_at`

func scanWallet(r scanner) (store.Wallet, error) {
	var w store.Wallet
	var created int64
	err := r.Scan(&w.ID, &w.MerchantID, &w.CustomerID, &w.Asset, &w.AccountID, &w.Name, &w.Status, &created)
	w.CreatedAt = fromMicros(created)
	return w, translate(err)
}

// Wallet reads a wallet by id.
func (s *Store) Wallet(ctx context.Context, id int64) (store.Wallet, error) {
	return scanWallet(s.reader.QueryRowContext(ctx, `SELECT `+walletCols+` FROM wallets WHERE id = ?`, id))
}

// WalletByName reads a wallet by name.
func (s *Store) WalletByName(ctx context.Context, name string) (store.Wallet, error) {
	return scanWallet(s.reader.QueryRowContext(ctx, `SELECT `+walletCols+` FROM wallets WHERE name = ?`, name))
}

// Wallets lists a merchant's wallets in id order.
func (s *Store) Wallets(ctx context.Context, f store.WalletFilter) ([]store.Wallet, error) {
	q := `SELECT ` + walletCols + ` FROM wallets WHERE merchant_id = ? AND id > ?`
	args := []any{f.MerchantID, f.AfterID}
	if f.CustomerID != 0 {
		q += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.Asset != "" {
		q += ` AND asset = ?`
		args = append(args, f.Asset)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limitOf(f.Limit))
	rows, err := s.reader.QueryContext(ctx, q, args...)
	return collect(rows, err, scanWallet)
}

// SetWalletStatus changes a wallet's status.
func (s *Store) SetWalletStatus(ctx context.Context, id int64, status string) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE wallets SET status = ? WHERE id = ?`, status, id)
	if err != nil {
		return translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return fmt.Errorf("wallet %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// TxWallet reads a wallet inside the batch.
func (t *Tx) TxWallet(ctx context.Context, id int64) (store.Wallet, error) {
	return scanWallet(t.tx.QueryRowContext(ctx, `SELECT `+walletCols+` FROM wallets WHERE id = ?`, id))
}

// TxCustomerWallet reads a customer's wallet of an asset inside the batch.
func (t *Tx) TxCustomerWallet(ctx context.Context, merchantID, customerID int64, asset string) (store.Wallet, error) {
	return scanWallet(t.tx.QueryRowContext(ctx, `SELECT `+walletCols+` FROM wallets WHERE merchant_id = ? AND customer_id = ? AND asset = ?`,
		merchantID, customerID, asset))
}

// InsertWallet inserts a wallet and sets w.ID; a unique key already taken
// is ErrRetry.
func (t *Tx) InsertWallet(ctx context.Context, w *store.Wallet) error {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO wallets (merchant_id, customer_id, asset, account_id, name, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		w.MerchantID, w.CustomerID, w.Asset, w.AccountID, w.Name, w.Status, micros(w.CreatedAt))
	if err != nil {
		return raced(translate(err))
	}
	w.ID, err = res.LastInsertId()
	return translate(err)
}

// --- system accounts ---

// SystemAccounts lists a merchant's system accounts.
func (s *Store) SystemAccounts(ctx context.Context, merchantID int64) ([]store.SystemAccount, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT merchant_id, asset, role, account_id FROM system_accounts WHERE merchant_id = ? ORDER BY asset, role`, merchantID)
	return collect(rows, err, func(r scanner) (store.SystemAccount, error) {
		var a store.SystemAccount
		err := r.Scan(&a.MerchantID, &a.Asset, &a.Role, &a.AccountID)
		return a, translate(err)
	})
}

// TxSystemAccount reads the account id of a system account inside the batch.
func (t *Tx) TxSystemAccount(ctx context.Context, merchantID int64, asset, role string) (int64, error) {
	var id int64
	err := t.tx.QueryRowContext(ctx, `SELECT account_id FROM system_accounts WHERE merchant_id = ? AND asset = ? AND role = ?`,
		merchantID, asset, role).Scan(&id)
	return id, translate(err)
}

// InsertSystemAccount records a system account; one that exists is ErrRetry.
func (t *Tx) InsertSystemAccount(ctx context.Context, a store.SystemAccount) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO system_accounts (merchant_id, asset, role, account_id) VALUES (?, ?, ?, ?)`,
		a.MerchantID, a.Asset, a.Role, a.AccountID)
	return raced(translate(err))
}

// --- master key check ---

// MasterKeyCheck reads the sealed check value.
func (s *Store) MasterKeyCheck(ctx context.Context) ([]byte, error) {
	var b []byte
	err := s.reader.QueryRowContext(ctx, `SELECT sealed FROM master_key_check WHERE id = 1`).Scan(&b)
	return b, translate(err)
}

// InitMasterKeyCheck stores the check value unless one exists.
func (s *Store) InitMasterKeyCheck(ctx context.Context, sealed []byte) ([]byte, error) {
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO master_key_check (id, sealed, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING`,
		sealed, micros(time.Now())); err != nil {
		return nil, translate(err)
	}
	var b []byte
	err := s.writer.QueryRowContext(ctx, `SELECT sealed FROM master_key_check WHERE id = 1`).Scan(&b)
	return b, translate(err)
}

// raced turns a unique violation inside a batch into ErrRetry: the caller
// looked the row up first, so another writer won the race.
func raced(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %v", store.ErrRetry, err)
	}
	return err
}

func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
