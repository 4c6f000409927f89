// Package merchant holds Coffer's tenants: merchants, their users (the
// merchant's admin login and its resellers), and per dialect the "open
// gateway" switch, typed settings and credentials, with key generation and
// rotation. Secrets that are only compared are stored as SHA-256 hashes and
// found in one indexed lookup; secrets needed to verify signatures are
// sealed with the master key (package seal).
//
// Failures are *ledger.Error values with stable codes, so that every
// surface maps them to its own wire format.
package merchant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
)

// Errors, compared with errors.Is (by code).
var (
	ErrMerchantNotFound = &ledger.Error{Kind: ledger.KindNotFound, Code: "merchant_not_found", Message: "merchant not found"}
	ErrUserNotFound     = &ledger.Error{Kind: ledger.KindNotFound, Code: "user_not_found", Message: "user not found"}
	ErrUsernameTaken    = &ledger.Error{Kind: ledger.KindConflict, Code: "username_taken", Message: "the username is in use (usernames are unique per Coffer instance)"}
	ErrDialectNotFound  = &ledger.Error{Kind: ledger.KindNotFound, Code: "dialect_not_found", Message: "unknown dialect: use cmmp, mor, mugglepay, webtv or paykassma"}
	ErrInvalidSettings  = &ledger.Error{Kind: ledger.KindInvalid, Code: "invalid_settings", Message: "invalid gateway settings"}
	// ErrUnknownKey answers every failed credential check alike: missing,
	// malformed, unknown, revoked or expired.
	ErrUnknownKey = &ledger.Error{Kind: ledger.KindNotFound, Code: "unknown_key", Message: "unknown or revoked key"}
	ErrKeyInUse   = &ledger.Error{Kind: ledger.KindConflict, Code: "key_in_use", Message: "another merchant uses this key for this dialect; choose another"}
	// ErrSealed means a sealed secret could not be opened: the master key
	// is not the one the database's secrets were sealed with.
	ErrSealed = &ledger.Error{Kind: ledger.KindInternal, Code: "master_key_mismatch", Message: "a sealed secret cannot be opened with this master key"}
)

func invalid(field, format string, args ...any) *ledger.Error {
	return &ledger.Error{Kind: ledger.KindInvalid, Code: "invalid_request", Message: fmt.Sprintf(format, args...), Field: field}
}

// Options are the Service's optional dependencies.
type Options struct {
	Logger *slog.Logger     // nil discards
	Now    func() time.Time // nil is time.Now
}

// Service manages merchants, users, gateways and credentials.
type Service struct {
	st     store.Store
	sealer *seal.Sealer
	log    *slog.Logger
	now    func() time.Time
}

// New returns a Service over st that seals secrets with sealer.
func New(st store.Store, sealer *seal.Sealer, opt Options) *Service {
	if sealer == nil {
		panic("merchant.New: nil sealer")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{st: st, sealer: sealer, log: opt.Logger, now: opt.Now}
}

// clock returns the current time as the stores keep it.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// --- merchants ---

// Limits.
const (
	MaxMerchantName = 200
	MaxUsername     = 64
)

// CreateParams describe a new merchant.
type CreateParams struct {
	Name string
	// Username, if set, becomes the merchant's admin user (MOR's u).
	Username string
}

// Created is a new merchant with every dialect's first credential. The
// secrets are shown once: only hashes or sealed copies are kept.
type Created struct {
	Merchant store.Merchant
	User     *User
	Keys     []NewKey // one per dialect, in Dialects() order
}

// Create makes a merchant, its admin user if a username is given, and a
// credential for every dialect. Every gateway starts closed.
func (s *Service) Create(ctx context.Context, p CreateParams) (Created, error) {
	if err := checkMerchantName(p.Name); err != nil {
		return Created{}, err
	}
	if p.Username != "" {
		if err := checkUsername(p.Username); err != nil {
			return Created{}, err
		}
		if _, err := s.st.MerchantUserByName(ctx, p.Username); err == nil {
			return Created{}, ErrUsernameTaken
		} else if !errors.Is(err, store.ErrNotFound) {
			return Created{}, ledger.FromStore(err, nil)
		}
	}
	m, err := s.st.CreateMerchant(ctx, p.Name)
	if err != nil {
		return Created{}, ledger.FromStore(err, nil)
	}
	out := Created{Merchant: m}
	if p.Username != "" {
		u, err := s.CreateUser(ctx, m.ID, p.Username, store.UserAdmin)
		if err != nil {
			return out, fmt.Errorf("merchant %d created, but not its user: %w", m.ID, err)
		}
		out.User = &u
	}
	for _, d := range Dialects() {
		k, err := s.GenerateKey(ctx, m.ID, d, 0)
		if err != nil {
			return out, fmt.Errorf("merchant %d created, but not its %s key: %w", m.ID, d, err)
		}
		out.Keys = append(out.Keys, k)
	}
	s.log.InfoContext(ctx, "merchant created", "merchant", m.ID)
	return out, nil
}

// Get returns a merchant.
func (s *Service) Get(ctx context.Context, id int64) (store.Merchant, error) {
	if id <= 0 {
		return store.Merchant{}, ErrMerchantNotFound
	}
	m, err := s.st.Merchant(ctx, id)
	return m, ledger.FromStore(err, ErrMerchantNotFound)
}

// List returns merchants in id order after afterID.
func (s *Service) List(ctx context.Context, afterID int64, limit int) ([]store.Merchant, error) {
	ms, err := s.st.Merchants(ctx, afterID, limit)
	return ms, ledger.FromStore(err, nil)
}

func checkMerchantName(name string) error {
	if name == "" || len(name) > MaxMerchantName || !utf8.ValidString(name) || strings.TrimSpace(name) != name ||
		strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return invalid("name", "name must be 1-%d bytes of text, without control characters or surrounding spaces", MaxMerchantName)
	}
	return nil
}

// --- users ---

// User is a login that identifies a merchant: the merchant's admin user or
// one of its resellers. Usernames are unique per Coffer instance.
type User struct {
	ID         int64
	MerchantID int64
	Username   string
	Role       string // store.UserAdmin or store.UserReseller
	CreatedAt  time.Time
}

// Owns reports whether u may act on a customer whose owner is ownerID: the
// merchant's admin user may act on every customer, a reseller only on the
// customers it owns.
func (u User) Owns(ownerID int64) bool { return u.Role == store.UserAdmin || ownerID == u.ID }

func userOf(r store.MerchantUser) User {
	return User{ID: r.ID, MerchantID: r.MerchantID, Username: r.Username, Role: r.Role, CreatedAt: r.CreatedAt}
}

// CreateUser adds a user (role store.UserAdmin or store.UserReseller) to a
// merchant.
func (s *Service) CreateUser(ctx context.Context, merchantID int64, username, role string) (User, error) {
	if err := checkUsername(username); err != nil {
		return User{}, err
	}
	if role == "" {
		role = store.UserReseller
	}
	if role != store.UserAdmin && role != store.UserReseller {
		return User{}, invalid("role", `role must be "admin" or "reseller"`)
	}
	if _, err := s.Get(ctx, merchantID); err != nil {
		return User{}, err
	}
	r := store.MerchantUser{MerchantID: merchantID, Username: username, Role: role, CreatedAt: s.clock()}
	if err := s.st.InsertMerchantUser(ctx, &r); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return User{}, ErrUsernameTaken
		}
		return User{}, ledger.FromStore(err, nil)
	}
	return userOf(r), nil
}

// Users lists a merchant's users.
func (s *Service) Users(ctx context.Context, merchantID int64) ([]User, error) {
	rs, err := s.st.MerchantUsers(ctx, merchantID)
	if err != nil {
		return nil, ledger.FromStore(err, nil)
	}
	out := make([]User, len(rs))
	for i, r := range rs {
		out[i] = userOf(r)
	}
	return out, nil
}

// UserByName finds a user, and so its merchant, by username (MOR's u).
func (s *Service) UserByName(ctx context.Context, username string) (User, error) {
	if checkUsername(username) != nil {
		return User{}, ErrUserNotFound
	}
	r, err := s.st.MerchantUserByName(ctx, username)
	if err != nil {
		return User{}, ledger.FromStore(err, ErrUserNotFound)
	}
	return userOf(r), nil
}

// User returns a merchant's user by id; another merchant's is not found.
func (s *Service) User(ctx context.Context, merchantID, id int64) (User, error) {
	r, err := s.st.MerchantUser(ctx, id)
	if err != nil {
		return User{}, ledger.FromStore(err, ErrUserNotFound)
	}
	if r.MerchantID != merchantID {
		return User{}, ErrUserNotFound
	}
	return userOf(r), nil
}

// checkUsername allows 1-64 characters A-Z a-z 0-9 . _ - @ +.
func checkUsername(u string) error {
	ok := u != "" && len(u) <= MaxUsername
	for i := 0; ok && i < len(u); i++ {
		c := u[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-@+", c) >= 0
	}
	if !ok {
		return invalid("username", "username must be 1-%d characters A-Z, a-z, 0-9, '.', '_', '-', '@' or '+'", MaxUsername)
	}
	return nil
}
