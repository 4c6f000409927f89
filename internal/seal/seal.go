// Package seal encrypts secrets at rest with Coffer's master key:
// AES-256-GCM with a random 96-bit nonce per value, and additional data
// that binds each ciphertext to the row it belongs to (so that a sealed
// value copied to another merchant's row does not open there).
//
// The master key is 32 bytes. It comes from COFFER_MASTER_KEY (base64 or
// hex) or from a key file that Load creates on first start with mode 0600.
// Lose the key and every sealed secret is lost with it: back it up apart
// from the database.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a master key: AES-256.
const KeySize = 32

// version is the first byte of every sealed value, so that the format can
// change without guessing.
const version = 1

// Errors.
var (
	// ErrOpen means a sealed value could not be opened: the master key is
	// not the one it was sealed with, the value was altered or truncated, or
	// it belongs to another row.
	ErrOpen = errors.New("seal: cannot open sealed value (wrong master key, or altered data)")
	// ErrKey means a master key is not 32 bytes in base64 or hex.
	ErrKey = errors.New("seal: the master key must be 32 bytes, written in base64 or hex")
)

// Sealer seals and opens values with one master key. It is safe for
// concurrent use.
type Sealer struct {
	aead        cipher.AEAD
	fingerprint string
}

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, ErrKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("coffer master key fingerprint\x00"), key...))
	return &Sealer{aead: aead, fingerprint: hex.EncodeToString(sum[:4])}, nil
}

// Fingerprint is a short public digest of the key (8 hex characters), for
// operators to check that every node uses the same key. It reveals nothing
// useful about the key.
func (s *Sealer) Fingerprint() string { return s.fingerprint }

// String never shows the key.
func (s *Sealer) String() string { return "seal.Sealer(" + s.fingerprint + ")" }

// Seal encrypts plaintext, bound to ad (additional data that must be given
// again to open it). The result is version || nonce || ciphertext+tag.
func (s *Sealer) Seal(plaintext, ad []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.aead.Overhead())
	out[0] = version
	_, _ = rand.Read(out[1 : 1+ns]) // crypto/rand.Read never fails
	return s.aead.Seal(out, out[1:1+ns], plaintext, ad)
}

// Open decrypts a value made by Seal with the same key and ad. Any failure
// is ErrOpen.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// ParseKey reads a master key written as 64 hex characters or as base64
// (standard or URL alphabet, padded or not) of 32 bytes. Surrounding
// spaces and newlines are ignored.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, ErrKey
}

// NewKey returns a new random master key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k)
	return k
}

// Source says where Load found the key.
type Source string

const (
	FromEnv     Source = "environment" // the value given (COFFER_MASTER_KEY)
	FromFile    Source = "file"        // an existing key file
	CreatedFile Source = "created"     // a key file created just now
)

// Load returns the Sealer of the master key: value if it is not empty
// (COFFER_MASTER_KEY), else the key in the file at path, creating the file
// (mode 0600, in a directory created with mode 0700) with a new random key
// if it does not exist.
func Load(value, path string) (*Sealer, Source, error) {
	if strings.TrimSpace(value) != "" {
		k, err := ParseKey(value)
		if err != nil {
			return nil, "", fmt.Errorf("COFFER_MASTER_KEY: %w", err)
		}
		s, err := New(k)
		return s, FromEnv, err
	}
	if path == "" {
		return nil, "", errors.New("seal: no master key: set COFFER_MASTER_KEY or give a key file")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, "", fmt.Errorf("master key file %s: %w", path, err)
		}
		s, err := New(k)
		return s, FromFile, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("master key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("master key file: %w", err)
	}
	k := NewKey()
	// O_EXCL: if another process created the file since we looked, use
	// its key rather than overwrite it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Load("", path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("master key file: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(k) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, "", fmt.Errorf("master key file %s: %w", path, err)
	}
	s, err := New(k)
	return s, CreatedFile, err
}

// LoosePermissions reports whether a key file can be read by others than
// its owner.
func LoosePermissions(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o077 != 0
}
