package merchant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/coffer-pay/coffer/internal/ledger"
	"log/slog"
	"strconv"
	"time"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/store"
)

// Key formats and limits.
const (
	// generatedSecretBytes is the entropy of a generated secret: 160 bits,
	// written as 40 lowercase hex characters, which every client of the
	// original services accepts.
	generatedSecretBytes = 20
	// generatedKeyIDBytes is the size of a generated webtv key id.
	generatedKeyIDBytes = 8
	// MinSecretLen and MaxSecretLen bound a secret an operator sets (an
	// existing integration's key; MOR's own example uses 6 digits).
	MinSecretLen = 6
	MaxSecretLen = 256
	// MaxKeyIDLen bounds a webtv key id.
	MaxKeyIDLen = 64
	// MaxGrace is the longest grace period of a rotation.
	MaxGrace = 90 * 24 * time.Hour
)

// NewKey is a credential just made current. Secret is shown once and never
// stored in clear; it prints as [redacted].
type NewKey struct {
	Dialect Dialect
	KeyID   string        // webtv: the public key id; else ""
	Secret  config.Secret // the secret: reveal it to the operator once
	Hint    string
	// PreviousUntil is when the replaced credential stops working: nil
	// when it was revoked at once (or there was none).
	PreviousUntil *time.Time
}

// LogValue keeps the secret out of structured logs, even when a NewKey is
// logged whole.
func (k NewKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("dialect", string(k.Dialect)), slog.String("key_id", k.KeyID), slog.String("hint", k.Hint))
}

// GenerateKey makes a new random credential for a merchant's dialect and
// makes it current. The previous one is revoked at once when grace is 0,
// as the original services do, or keeps working for grace.
func (s *Service) GenerateKey(ctx context.Context, merchantID int64, d Dialect, grace time.Duration) (NewKey, error) {
	var keyID string
	if d == WebTV {
		keyID = randomHex(generatedKeyIDBytes)
	}
	return s.SetKey(ctx, merchantID, d, keyID, config.Secret(randomHex(generatedSecretBytes)), grace)
}

// SetKey makes an operator-chosen credential current: the key of an
// existing integration, so that its clients only change the host name.
// keyID is webtv's public key id (required for webtv, empty otherwise).
// The previous credential is revoked at once when grace is 0, or keeps
// working for grace.
func (s *Service) SetKey(ctx context.Context, merchantID int64, d Dialect, keyID string, secret config.Secret, grace time.Duration) (NewKey, error) {
	if _, err := ParseDialect(string(d)); err != nil {
		return NewKey{}, err
	}
	sec := secret.Reveal()
	if !printable(sec, MinSecretLen, MaxSecretLen) {
		return NewKey{}, invalid("secret", "the secret must be %d-%d printable ASCII characters without spaces", MinSecretLen, MaxSecretLen)
	}
	switch {
	case d == WebTV && !printable(keyID, 1, MaxKeyIDLen):
		return NewKey{}, invalid("key_id", "key_id must be 1-%d printable ASCII characters without spaces", MaxKeyIDLen)
	case d != WebTV && keyID != "":
		return NewKey{}, invalid("key_id", "only webtv credentials have a key id")
	}
	if grace < 0 || grace > MaxGrace {
		return NewKey{}, invalid("grace", "the grace period must be between 0 and %s", MaxGrace)
	}
	if _, err := s.Get(ctx, merchantID); err != nil {
		return NewKey{}, err
	}
	now := s.clock()
	c := store.Credential{MerchantID: merchantID, Dialect: string(d), Hint: hint(sec), CreatedAt: now}
	if d.sealed() {
		c.Lookup = keyID
		c.Sealed = s.sealer.Seal([]byte(sec), sealAD(merchantID, d))
	} else {
		c.Lookup = lookupOf(sec)
	}
	var until *time.Time
	if grace > 0 {
		t := now.Add(grace)
		until = &t
	}
	if err := s.st.ReplaceCredential(ctx, &c, now, until); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return NewKey{}, ErrKeyInUse
		}
		return NewKey{}, ledger.FromStore(err, nil)
	}
	// Never log the secret; the hint is what operators compare.
	s.log.InfoContext(ctx, "gateway key replaced", "merchant", merchantID, "dialect", d, "hint", c.Hint, "grace", grace)
	return NewKey{Dialect: d, KeyID: keyID, Secret: secret, Hint: c.Hint, PreviousUntil: until}, nil
}

// Authenticate finds the merchant whose current (or in-grace) key of a
// dialect is presented: the CM MicroPayments secure key, the MugglePay API
// token or the Paykassma plugin API secret. Any failure is ErrUnknownKey.
// It returns the merchant's gateway: the caller checks Open.
func (s *Service) Authenticate(ctx context.Context, d Dialect, presented string) (Gateway, error) {
	if d.sealed() {
		return Gateway{}, fmt.Errorf("merchant: %s keys are not found by hash", d)
	}
	if _, err := ParseDialect(string(d)); err != nil {
		return Gateway{}, err
	}
	if presented == "" || len(presented) > MaxSecretLen {
		return Gateway{}, ErrUnknownKey
	}
	want := lookupOf(presented)
	c, err := s.st.CredentialByLookup(ctx, string(d), want, s.clock())
	if err != nil {
		return Gateway{}, ledger.FromStore(err, ErrUnknownKey)
	}
	// The index found the row by hash; compare again in constant time so
	// that the answer never depends on how the database compares.
	if !Equal(c.Lookup, want) {
		return Gateway{}, ErrUnknownKey
	}
	return s.gateway(ctx, c.MerchantID, d, false)
}

// WebTVKey finds the merchant of a webtv key id and returns its gateway and
// the shared secret that signs its requests. An unknown, revoked or expired
// key id is ErrUnknownKey.
func (s *Service) WebTVKey(ctx context.Context, keyID string) (Gateway, config.Secret, error) {
	if !printable(keyID, 1, MaxKeyIDLen) {
		return Gateway{}, "", ErrUnknownKey
	}
	c, err := s.st.CredentialByLookup(ctx, string(WebTV), keyID, s.clock())
	if err != nil {
		return Gateway{}, "", ledger.FromStore(err, ErrUnknownKey)
	}
	sec, err := s.open(c)
	if err != nil {
		return Gateway{}, "", err
	}
	g, err := s.gateway(ctx, c.MerchantID, WebTV, false)
	return g, sec, err
}

// Secrets returns a merchant's valid sealed secrets of a dialect (the MOR
// API secret key), the current one first, then those in their grace
// period: a signature made with any of them is valid.
func (s *Service) Secrets(ctx context.Context, merchantID int64, d Dialect) ([]config.Secret, error) {
	if !d.sealed() {
		return nil, fmt.Errorf("merchant: %s secrets are hashed, not sealed", d)
	}
	cs, err := s.st.Credentials(ctx, merchantID, string(d), s.clock())
	if err != nil {
		return nil, ledger.FromStore(err, nil)
	}
	out := make([]config.Secret, 0, len(cs))
	for _, c := range cs {
		sec, err := s.open(c)
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

func (s *Service) open(c store.Credential) (config.Secret, error) {
	pt, err := s.sealer.Open(c.Sealed, sealAD(c.MerchantID, Dialect(c.Dialect)))
	if err != nil {
		s.log.Error("cannot open a sealed secret: is this the master key the secrets were sealed with?",
			"merchant", c.MerchantID, "dialect", c.Dialect, "credential", c.ID, "master_key", s.sealer.Fingerprint())
		return "", ErrSealed
	}
	return config.Secret(pt), nil
}

// Equal compares two credential strings in constant time (for equal
// lengths; the length itself is not secret).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// masterKeyCheck is what the check value seals.
const masterKeyCheck = "coffer master key check"

// ErrMasterKeyMismatch means the master key is not the one the database's
// secrets were sealed with.
var ErrMasterKeyMismatch = errors.New("the master key does not match the one this database's secrets were sealed with: " +
	"restore the right key file or COFFER_MASTER_KEY (see docs/merchants.md)")

// CheckMasterKey proves that the Service's master key is the one the
// database's secrets are sealed with. On a database that has none yet, it
// records a value sealed with this key, so that the next start with
// another key fails here instead of when a secret is first needed.
func (s *Service) CheckMasterKey(ctx context.Context) error {
	ad := []byte("coffer/master-key-check/v1")
	stored, err := s.st.InitMasterKeyCheck(ctx, s.sealer.Seal([]byte(masterKeyCheck), ad))
	if err != nil {
		return fmt.Errorf("master key check: %w", err)
	}
	pt, err := s.sealer.Open(stored, ad)
	if err != nil || string(pt) != masterKeyCheck {
		return ErrMasterKeyMismatch
	}
	return nil
}

// sealAD binds a sealed secret to its merchant and dialect.
func sealAD(merchantID int64, d Dialect) []byte {
	return []byte("coffer/credential/v1 merchant=" + strconv.FormatInt(merchantID, 10) + " dialect=" + string(d))
}

// lookupOf is the stored form of a compared secret: hex SHA-256.
func lookupOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// hint shows the last 4 characters of a secret of at least 16, so that
// operators can tell keys apart without the hint weakening a short one.
func hint(secret string) string {
	if len(secret) < 16 {
		return ""
	}
	return "…" + secret[len(secret)-4:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// printable reports whether s has min to max characters of printable ASCII
// other than space.
func printable(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
