// Package apikey makes and checks the bearer keys of Coffer's native API.
//
// A key reads ck_<prefix>_<secret>: "ck_" marks it as a Coffer key (so that
// secret scanners can find leaked ones), the 12-character prefix is public
// and finds the key's row, and the secret carries at least 128 random bits.
// Only the SHA-256 of the whole key is stored, and checking compares hashes
// in constant time.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-pay/coffer/internal/store"
)

// Roles a key may have.
const (
	RoleAdmin    = "admin"
	RoleMerchant = "merchant"
)

// Format limits.
const (
	// PrefixLen is the length of the public prefix.
	PrefixLen = 12
	// MinSecretLen is the shortest secret accepted: 26 base32 characters
	// carry 130 bits (26 base64url characters carry 156).
	MinSecretLen = 26
	// MaxSecretLen bounds the secret so that a key fits in a header line.
	MaxSecretLen = 128
	// MaxNameLen bounds a key's human label.
	MaxNameLen = 200

	marker = "ck_"
	// secretBytes is the entropy of a generated secret: 256 bits.
	secretBytes = 32
	// prefixBytes is enough random bytes for PrefixLen base32 characters.
	prefixBytes = 8
)

// Errors. A caller answering a client treats ErrMalformed, ErrUnknown and
// ErrRevoked alike (unauthorized) and must not tell them apart on the wire.
var (
	ErrMalformed = errors.New("apikey: malformed key")
	ErrUnknown   = errors.New("apikey: unknown key")
	ErrRevoked   = errors.New("apikey: key revoked")
	ErrInvalid   = errors.New("apikey: invalid key attributes")
)

// lowercase base32 (RFC 4648 alphabet a-z2-7) without padding: the key can
// be selected with a double click and read aloud.
var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Parse splits a key into its public prefix and its secret, checking the
// format: "ck_", 12 characters of a-z0-9, "_", then 26 to 128 characters of
// A-Z a-z 0-9 '-' '_' (base32 or base64url).
func Parse(token string) (prefix, secret string, err error) {
	rest, ok := strings.CutPrefix(token, marker)
	if !ok || len(rest) < PrefixLen+1 || rest[PrefixLen] != '_' {
		return "", "", ErrMalformed
	}
	prefix, secret = rest[:PrefixLen], rest[PrefixLen+1:]
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return "", "", ErrMalformed
		}
	}
	if len(secret) < MinSecretLen || len(secret) > MaxSecretLen {
		return "", "", ErrMalformed
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", ErrMalformed
		}
	}
	return prefix, secret, nil
}

// Hash returns the SHA-256 of the whole key, as stored.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Generate makes a new random key for a merchant. The token is shown to its
// owner once; row is what to store (call store.InsertAPIKey with it).
func Generate(role string, merchantID int64, name string) (token string, row store.APIKey, err error) {
	if err := checkAttrs(role, merchantID, name); err != nil {
		return "", store.APIKey{}, err
	}
	buf := make([]byte, prefixBytes+secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", store.APIKey{}, fmt.Errorf("apikey: read random: %w", err)
	}
	prefix := enc.EncodeToString(buf[:prefixBytes])[:PrefixLen]
	token = marker + prefix + "_" + enc.EncodeToString(buf[prefixBytes:])
	return token, newRow(token, prefix, role, merchantID, name), nil
}

// Import checks an operator-chosen key (such as COFFER_ADMIN_KEY) and
// returns the row to store for it. The key must have the same format as a
// generated one; its secret should come from a good random source, which
// Import cannot check beyond its length.
func Import(token, role string, merchantID int64, name string) (store.APIKey, error) {
	if err := checkAttrs(role, merchantID, name); err != nil {
		return store.APIKey{}, err
	}
	prefix, _, err := Parse(token)
	if err != nil {
		return store.APIKey{}, fmt.Errorf("%w: want ck_<12 characters a-z0-9>_<%d-%d characters of base32 or base64url>", ErrMalformed, MinSecretLen, MaxSecretLen)
	}
	return newRow(token, prefix, role, merchantID, name), nil
}

func newRow(token, prefix, role string, merchantID int64, name string) store.APIKey {
	return store.APIKey{
		MerchantID: merchantID,
		Prefix:     prefix,
		Hash:       Hash(token),
		Role:       role,
		Name:       name,
		CreatedAt:  time.Now().UTC(),
	}
}

func checkAttrs(role string, merchantID int64, name string) error {
	switch {
	case role != RoleAdmin && role != RoleMerchant:
		return fmt.Errorf("%w: role must be %q or %q", ErrInvalid, RoleAdmin, RoleMerchant)
	case merchantID <= 0:
		return fmt.Errorf("%w: merchant id must be positive", ErrInvalid)
	case len(name) > MaxNameLen || !utf8.ValidString(name):
		return fmt.Errorf("%w: name must be valid UTF-8 of at most %d bytes", ErrInvalid, MaxNameLen)
	}
	return nil
}

// Finder is what Verify needs from the store.
type Finder interface {
	APIKeyByPrefix(ctx context.Context, prefix string) (store.APIKey, error)
}

// Verify checks a presented key and returns its row. It fails with
// ErrMalformed, ErrUnknown or ErrRevoked, or with the store's error (such
// as store.ErrUnavailable) when the key could not be looked up.
func Verify(ctx context.Context, st Finder, token string) (store.APIKey, error) {
	prefix, _, err := Parse(token)
	if err != nil {
		return store.APIKey{}, err
	}
	row, err := st.APIKeyByPrefix(ctx, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return store.APIKey{}, ErrUnknown
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("apikey: look up key: %w", err)
	}
	if subtle.ConstantTimeCompare(Hash(token), row.Hash) != 1 {
		return store.APIKey{}, ErrUnknown
	}
	if row.RevokedAt != nil {
		return store.APIKey{}, ErrRevoked
	}
	return row, nil
}
