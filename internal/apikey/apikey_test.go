package apikey

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

// mapFinder is an in-memory Finder for the fuzz target and unit tests.
type mapFinder map[string]store.APIKey

func (m mapFinder) APIKeyByPrefix(_ context.Context, prefix string) (store.APIKey, error) {
	k, ok := m[prefix]
	if !ok {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, nil
}

func TestGenerateFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, row, err := Generate(RoleMerchant, 7, "test")
		if err != nil {
			t.Fatal(err)
		}
		prefix, secret, err := Parse(tok)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tok, err)
		}
		if got, want := len(prefix), PrefixLen; got != want {
			t.Errorf("prefix length = %d, want %d", got, want)
		}
		if got, want := len(secret), 52; got != want { // 256 bits in base32
			t.Errorf("secret length = %d, want %d", got, want)
		}
		if got, want := tok, "ck_"+prefix+"_"+secret; got != want {
			t.Errorf("token = %q, want %q", got, want)
		}
		if row.Prefix != prefix || string(row.Hash) != string(Hash(tok)) || row.Role != RoleMerchant || row.MerchantID != 7 || row.Name != "test" {
			t.Errorf("row = %+v, does not describe %q", row, tok)
		}
		if strings.Contains(string(row.Hash), secret) {
			t.Errorf("row stores the secret")
		}
		if seen[tok] || seen[prefix] {
			t.Fatalf("duplicate token or prefix %q", tok)
		}
		seen[tok], seen[prefix] = true, true
	}
}

func TestGenerateInvalid(t *testing.T) {
	tests := []struct {
		name     string
		role     string
		merchant int64
		label    string
	}{
		{"bad role", "root", 1, ""},
		{"empty role", "", 1, ""},
		{"zero merchant", RoleAdmin, 0, ""},
		{"negative merchant", RoleAdmin, -1, ""},
		{"long name", RoleAdmin, 1, strings.Repeat("x", MaxNameLen+1)},
		{"bad utf8 name", RoleAdmin, 1, "\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := Generate(tt.role, tt.merchant, tt.label); !errors.Is(err, ErrInvalid) {
				t.Errorf("Generate error = %v, want ErrInvalid", err)
			}
			if _, err := Import("ck_abcdefghijkl_"+strings.Repeat("a", 32), tt.role, tt.merchant, tt.label); !errors.Is(err, ErrInvalid) {
				t.Errorf("Import error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	secret := strings.Repeat("A", MinSecretLen)
	tests := []struct {
		token  string
		prefix string // "" when malformed
	}{
		{"ck_abcdefgh2345_" + secret, "abcdefgh2345"},
		{"ck_000000000000_" + strings.Repeat("a-_Z9", 10), "000000000000"},
		{"ck_abcdefgh2345_" + strings.Repeat("x", MaxSecretLen), "abcdefgh2345"},
		{"", ""},
		{"ck_", ""},
		{"ck_abcdefgh2345", ""},
		{"ck_abcdefgh2345_", ""},
		{"ck_abcdefgh2345_" + secret[1:], ""}, // secret too short
		{"ck_abcdefgh2345_" + strings.Repeat("x", MaxSecretLen+1), ""}, // too long
		{"ck_abcdefgh234_" + secret, ""},                               // prefix too short
		{"ck_abcdefgh23456_" + secret, ""},                             // prefix too long
		{"ck_ABCDEFGH2345_" + secret, ""},                              // upper-case prefix
		{"ck_abcdefgh2345_" + secret + "=", ""},                        // padding
		{"ck_abcdefgh2345_" + secret + " ", ""},
		{"ck_abcdefgh2345_" + secret + "\x00", ""},
		{"Ck_abcdefgh2345_" + secret, ""},
		{"xx_abcdefgh2345_" + secret, ""},
		{"ck-abcdefgh2345_" + secret, ""},
		{"ck_abcdefgh2345-" + secret, ""},
		{"ck_abcdefgh_345_" + secret, ""},
		{"ck_abcdéfgh2345_" + secret, ""},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			prefix, _, err := Parse(tt.token)
			if tt.prefix == "" {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse error = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse error = %v", err)
			}
			if prefix != tt.prefix {
				t.Errorf("prefix = %q, want %q", prefix, tt.prefix)
			}
		})
	}
}

func TestImport(t *testing.T) {
	tok := "ck_adminadmin01_" + strings.Repeat("Zz09-_", 6)
	row, err := Import(tok, RoleAdmin, 1, "env")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := row.Prefix, "adminadmin01"; got != want {
		t.Errorf("prefix = %q, want %q", got, want)
	}
	f := mapFinder{row.Prefix: row}
	got, err := Verify(context.Background(), f, tok)
	if err != nil {
		t.Fatalf("Verify imported key: %v", err)
	}
	if got.Role != RoleAdmin {
		t.Errorf("role = %q, want admin", got.Role)
	}
	if _, err := Import("ck_short_x", RoleAdmin, 1, ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("Import malformed = %v, want ErrMalformed", err)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	good, goodRow, _ := Generate(RoleMerchant, 1, "good")
	revoked, revRow, _ := Generate(RoleMerchant, 1, "revoked")
	now := time.Now()
	revRow.RevokedAt = &now
	unknown, _, _ := Generate(RoleMerchant, 1, "unknown")
	// Same prefix as good, other secret.
	_, gs, _ := Parse(good)
	forged := good[:len(good)-len(gs)] + strings.Repeat("a", len(gs))

	f := mapFinder{goodRow.Prefix: goodRow, revRow.Prefix: revRow}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"good", good, nil},
		{"revoked", revoked, ErrRevoked},
		{"unknown prefix", unknown, ErrUnknown},
		{"wrong secret", forged, ErrUnknown},
		{"malformed", "Bearer " + good, ErrMalformed},
		{"empty", "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, err := Verify(ctx, f, tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if err == nil && row.Prefix != goodRow.Prefix {
				t.Errorf("row prefix = %q, want %q", row.Prefix, goodRow.Prefix)
			}
		})
	}
}

type failFinder struct{}

func (failFinder) APIKeyByPrefix(context.Context, string) (store.APIKey, error) {
	return store.APIKey{}, store.ErrUnavailable
}

func TestVerifyStoreError(t *testing.T) {
	tok, _, _ := Generate(RoleAdmin, 1, "")
	_, err := Verify(context.Background(), failFinder{}, tok)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Verify error = %v, want store.ErrUnavailable", err)
	}
	if errors.Is(err, ErrUnknown) {
		t.Errorf("a store failure must not look like an unknown key")
	}
}

// TestVerifySQLite stores keys in the real engine and checks them back.
func TestVerifySQLite(t *testing.T) {
	ctx := context.Background()
	st := sqlite.OpenTest(t)
	tok, row, err := Generate(RoleAdmin, 1, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InsertAPIKey(ctx, &row); err != nil {
		t.Fatal(err)
	}
	got, err := Verify(ctx, st, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.ID != row.ID || got.MerchantID != 1 || got.Role != RoleAdmin {
		t.Errorf("Verify = %+v, want the stored row %+v", got, row)
	}
	other, _, _ := Generate(RoleAdmin, 1, "")
	if _, err := Verify(ctx, st, other); !errors.Is(err, ErrUnknown) {
		t.Errorf("Verify unknown = %v, want ErrUnknown", err)
	}
}

func FuzzVerify(f *testing.F) {
	good, goodRow, _ := Generate(RoleMerchant, 1, "")
	finder := mapFinder{goodRow.Prefix: goodRow}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good + "a")
	f.Add("ck_abcdefgh2345_" + strings.Repeat("A", MinSecretLen))
	f.Add("ck_" + goodRow.Prefix + "_" + strings.Repeat("-", 40))
	f.Add("")
	f.Add("ck__")
	f.Fuzz(func(t *testing.T, token string) {
		prefix, secret, err := Parse(token)
		if err == nil {
			if token != "ck_"+prefix+"_"+secret {
				t.Fatalf("Parse(%q) = %q, %q: does not rebuild the token", token, prefix, secret)
			}
			if len(prefix) != PrefixLen || len(secret) < MinSecretLen || len(secret) > MaxSecretLen {
				t.Fatalf("Parse(%q) accepted bad lengths", token)
			}
			if _, err := Import(token, RoleMerchant, 1, ""); err != nil {
				t.Fatalf("Parse accepts %q but Import refuses it: %v", token, err)
			}
		}
		row, err := Verify(context.Background(), finder, token)
		if (err == nil) != (token == good) {
			t.Fatalf("Verify(%q) = %+v, %v; only the generated key may pass", token, row, err)
		}
	})
}
