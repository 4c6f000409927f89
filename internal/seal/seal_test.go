package seal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/seal"
)

func mustNew(t *testing.T, key []byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(key)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := mustNew(t, seal.NewKey())
	other := mustNew(t, seal.NewKey())
	ad := []byte("merchant=7 dialect=mor")
	secret := []byte("the MOR secret 456789")
	sealed := s.Seal(secret, ad)
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := s.Seal(secret, ad); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	got, err := s.Open(sealed, ad)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v; want %q", got, err, secret)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name   string
		s      *seal.Sealer
		sealed []byte
		ad     []byte
	}{
		{"wrong master key", other, sealed, ad},
		{"other row", s, sealed, []byte("merchant=8 dialect=mor")},
		{"altered", s, flipped, ad},
		{"truncated", s, sealed[:len(sealed)-1], ad},
		{"empty", s, nil, ad},
		{"unknown version", s, append([]byte{9}, sealed[1:]...), ad},
	}
	for _, tt := range tests {
		if _, err := tt.s.Open(tt.sealed, tt.ad); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s: Open = %v, want ErrOpen", tt.name, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	tests := []struct {
		in string
		ok bool
	}{
		{hex.EncodeToString(key), true},
		{strings.ToUpper(hex.EncodeToString(key)), true},
		{base64.StdEncoding.EncodeToString(key), true},
		{base64.RawURLEncoding.EncodeToString(key), true},
		{"  " + hex.EncodeToString(key) + "\n", true},
		{"", false},
		{hex.EncodeToString(key[:31]), false},
		{base64.StdEncoding.EncodeToString(append(key, 1)), false},
		{"not a key at all", false},
	}
	for _, tt := range tests {
		got, err := seal.ParseKey(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("ParseKey(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x", tt.in, got)
		}
		if !tt.ok && !errors.Is(err, seal.ErrKey) {
			t.Errorf("ParseKey(%q) = %v, want ErrKey", tt.in, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "master.key")
	s1, src, err := seal.Load("", path)
	if err != nil || src != seal.CreatedFile {
		t.Fatalf("first Load = %v, %v; want a created file", src, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || seal.LoosePermissions(path) {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	s2, src, err := seal.Load("", path)
	if err != nil || src != seal.FromFile {
		t.Fatalf("second Load = %v, %v; want the file", src, err)
	}
	if s1.Fingerprint() != s2.Fingerprint() {
		t.Error("the key file was not reused")
	}
	sealed := s1.Seal([]byte("x"), nil)
	if _, err := s2.Open(sealed, nil); err != nil {
		t.Errorf("open with the reloaded key: %v", err)
	}
	// The environment wins over the file.
	key := seal.NewKey()
	s3, src, err := seal.Load(base64.StdEncoding.EncodeToString(key), path)
	if err != nil || src != seal.FromEnv || s3.Fingerprint() == s1.Fingerprint() {
		t.Errorf("Load(env) = %v, %v", src, err)
	}
	if _, err := s3.Open(sealed, nil); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("open with another key = %v, want ErrOpen", err)
	}
	if _, _, err := seal.Load("short", path); !errors.Is(err, seal.ErrKey) {
		t.Errorf("Load(bad env) = %v, want ErrKey", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := seal.Load("", filepath.Join(dir, "bad.key")); !errors.Is(err, seal.ErrKey) {
		t.Errorf("Load(bad file) = %v, want ErrKey", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if !seal.LoosePermissions(path) {
		t.Error("LoosePermissions(0644) = false")
	}
}

func TestStringHidesKey(t *testing.T) {
	key := seal.NewKey()
	s := mustNew(t, key)
	for _, enc := range []string{hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key)} {
		if strings.Contains(s.String(), enc) {
			t.Errorf("String() shows the key")
		}
	}
	if len(s.Fingerprint()) != 8 {
		t.Errorf("Fingerprint = %q, want 8 hex characters", s.Fingerprint())
	}
}

// FuzzOpen: any input is refused or opened, never a panic.
func FuzzOpen(f *testing.F) {
	s, err := seal.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Seal([]byte("secret"), []byte("ad")), []byte("ad"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 2, 3}, []byte("x"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := s.Open(sealed, ad)
		if err != nil && !errors.Is(err, seal.ErrOpen) {
			t.Fatalf("Open error %v is not ErrOpen", err)
		}
		if err == nil {
			// Only a genuine seal opens; re-sealing must round-trip.
			back, err := s.Open(s.Seal(pt, ad), ad)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("round trip failed")
			}
		}
	})
}
