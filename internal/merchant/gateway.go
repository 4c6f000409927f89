package merchant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Dialect names one of the legacy payment APIs Coffer speaks.
type Dialect string

// The dialects.
const (
	CMMP      Dialect = "cmmp"      // CM MicroPayments External API
	MOR       Dialect = "mor"       // MOR billing payment_create
	MugglePay Dialect = "mugglepay" // MugglePay POST /v1/orders
	WebTV     Dialect = "webtv"     // ws.webtv store API
	Paykassma Dialect = "paykassma" // Paykassma deposits
)

// Dialects lists every dialect, in a fixed order.
func Dialects() []Dialect { return []Dialect{CMMP, MOR, MugglePay, WebTV, Paykassma} }

// ParseDialect reads a dialect name.
func ParseDialect(s string) (Dialect, error) {
	for _, d := range Dialects() {
		if string(d) == s {
			return d, nil
		}
	}
	return "", ErrDialectNotFound
}

// sealed reports whether the dialect's secret is needed in clear to verify
// signatures (so it is sealed) rather than only compared (so it is hashed).
func (d Dialect) sealed() bool { return d == MOR || d == WebTV }

// Settings of each dialect. They are stored as JSON, one row per merchant
// and dialect, so that new settings need no migration: a field a stored row
// lacks takes its default.

// CMMPSettings configure the CM MicroPayments External API.
type CMMPSettings struct {
	// Rounding of points given with decimals when the merchant's points
	// have none: "half_up" (the default) or "half_down".
	Rounding string `json:"rounding"`
}

// MORSettings configure MOR billing's payment_create.
type MORSettings struct {
	// Usernames that may authenticate as u; empty means every user of the
	// merchant.
	Usernames []string `json:"usernames"`
	// HashCheck requires the SHA-1 hash parameter (default on).
	HashCheck bool `json:"hash_check"`
	// AllowGET accepts GET requests as well as POST (default off; the
	// original does not recommend it).
	AllowGET bool `json:"allow_get"`
	// Confirmation makes payments wait for an operator's confirmation
	// before the balance moves (default off).
	Confirmation bool `json:"confirmation"`
	// DefaultTaxRate is the merchant's tax rate in percent (such as "21"
	// or "7.5") for customers without a rate of their own; "" is none.
	DefaultTaxRate string `json:"default_tax_rate,omitempty"`
}

// TaxRatePPM returns DefaultTaxRate in parts per million, or nil.
func (s MORSettings) TaxRatePPM() *int64 {
	if s.DefaultTaxRate == "" {
		return nil
	}
	v, err := parsePercentPPM(s.DefaultTaxRate)
	if err != nil {
		return nil
	}
	return &v
}

// Allows reports whether username may authenticate as u.
func (s MORSettings) Allows(username string) bool {
	if len(s.Usernames) == 0 {
		return true
	}
	for _, u := range s.Usernames {
		if u == username {
			return true
		}
	}
	return false
}

// MugglePaySettings configure MugglePay's orders API. (None yet: the API
// token is the credential.)
type MugglePaySettings struct{}

// WebTVSettings configure the ws.webtv store API.
type WebTVSettings struct {
	// SignatureMode is "hmac" (HMAC-SHA256, the default) or "md5" (the
	// document's simplified mode).
	SignatureMode string `json:"signature_mode"`
	// ExpirationSeconds is the accepted window around a request's
	// timestamp (default 300).
	ExpirationSeconds int `json:"expiration_seconds"`
}

// PaykassmaSettings configure Paykassma deposits.
type PaykassmaSettings struct {
	// IPAllowList, if not empty, lists the addresses or CIDR prefixes
	// requests may come from.
	IPAllowList []string `json:"ip_allow_list"`
}

// Allows reports whether a client address may call (true when the list is
// empty).
func (s PaykassmaSettings) Allows(addr netip.Addr) bool {
	if len(s.IPAllowList) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, e := range s.IPAllowList {
		if p, err := netip.ParsePrefix(e); err == nil && p.Contains(addr) {
			return true
		}
		if a, err := netip.ParseAddr(e); err == nil && a.Unmap() == addr {
			return true
		}
	}
	return false
}

// Gateway is a merchant's switch, settings and credentials for one
// dialect. Only the settings field of its Dialect is meaningful.
type Gateway struct {
	MerchantID int64
	Dialect    Dialect
	Open       bool
	CMMP       CMMPSettings
	MOR        MORSettings
	MugglePay  MugglePaySettings
	WebTV      WebTVSettings
	Paykassma  PaykassmaSettings
	// Keys describes the valid credentials, the current one first (the
	// others are in their grace period). Only Service.Gateway fills it.
	Keys      []KeyInfo
	UpdatedAt time.Time // zero while the gateway has its defaults
}

// KeyInfo describes a credential without its secret.
type KeyInfo struct {
	KeyID     string     // the public key id (webtv), else ""
	Hint      string     // the secret's last characters, such as "…9f3a"
	CreatedAt time.Time  // when it was made
	ExpiresAt *time.Time // nil for the current key
}

// settings returns a pointer to the settings field of g's dialect.
func (g *Gateway) settings() any {
	switch g.Dialect {
	case CMMP:
		return &g.CMMP
	case MOR:
		return &g.MOR
	case MugglePay:
		return &g.MugglePay
	case WebTV:
		return &g.WebTV
	case Paykassma:
		return &g.Paykassma
	}
	return nil
}

// Settings returns the settings of g's dialect (a CMMPSettings,
// MORSettings, … value), as the API shows them.
func (g Gateway) Settings() any {
	switch p := g.settings().(type) {
	case *CMMPSettings:
		return *p
	case *MORSettings:
		return *p
	case *MugglePaySettings:
		return *p
	case *WebTVSettings:
		return *p
	case *PaykassmaSettings:
		return *p
	}
	return nil
}

// defaultGateway is a closed gateway with default settings.
func defaultGateway(merchantID int64, d Dialect) Gateway {
	return Gateway{
		MerchantID: merchantID,
		Dialect:    d,
		CMMP:       CMMPSettings{Rounding: "half_up"},
		MOR:        MORSettings{HashCheck: true},
		WebTV:      WebTVSettings{SignatureMode: "hmac", ExpirationSeconds: 300},
	}
}

// validate checks the settings of g's dialect.
func (g *Gateway) validate() error {
	bad := func(field, msg string) error {
		e := *ErrInvalidSettings
		e.Message, e.Field = msg, field
		return &e
	}
	switch g.Dialect {
	case CMMP:
		if r := g.CMMP.Rounding; r != "half_up" && r != "half_down" {
			return bad("rounding", `rounding must be "half_up" or "half_down"`)
		}
	case MOR:
		for _, u := range g.MOR.Usernames {
			if checkUsername(u) != nil {
				return bad("usernames", fmt.Sprintf("%q is not a username", u))
			}
		}
		if r := g.MOR.DefaultTaxRate; r != "" {
			if _, err := parsePercentPPM(r); err != nil {
				return bad("default_tax_rate", "default_tax_rate must be a percentage between 0 and 100 with at most 4 decimals, such as \"21\" or \"7.5\"")
			}
		}
	case WebTV:
		if m := g.WebTV.SignatureMode; m != "hmac" && m != "md5" {
			return bad("signature_mode", `signature_mode must be "hmac" or "md5"`)
		}
		if e := g.WebTV.ExpirationSeconds; e < 1 || e > 86400 {
			return bad("expiration_seconds", "expiration_seconds must be 1-86400")
		}
	case Paykassma:
		if len(g.Paykassma.IPAllowList) > 100 {
			return bad("ip_allow_list", "ip_allow_list takes at most 100 entries")
		}
		for _, e := range g.Paykassma.IPAllowList {
			if _, err := netip.ParsePrefix(e); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(e); err != nil {
				return bad("ip_allow_list", fmt.Sprintf("%q is not an IP address or CIDR prefix", e))
			}
		}
	}
	return nil
}

// gateway reads a gateway (its defaults if it has no row), with its
// credentials if keys is true.
func (s *Service) gateway(ctx context.Context, merchantID int64, d Dialect, keys bool) (Gateway, error) {
	g := defaultGateway(merchantID, d)
	row, err := s.st.Gateway(ctx, merchantID, string(d))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Gateway{}, ledger.FromStore(err, nil)
	default:
		g.Open, g.UpdatedAt = row.Open, row.UpdatedAt
		// Stored JSON over the defaults: fields it lacks keep them.
		if err := json.Unmarshal(row.Settings, g.settings()); err != nil {
			return Gateway{}, fmt.Errorf("gateway %d/%s: stored settings: %w", merchantID, d, err)
		}
	}
	if keys {
		cs, err := s.st.Credentials(ctx, merchantID, string(d), s.clock())
		if err != nil {
			return Gateway{}, ledger.FromStore(err, nil)
		}
		for _, c := range cs {
			k := KeyInfo{Hint: c.Hint, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt}
			if d == WebTV {
				k.KeyID = c.Lookup
			}
			g.Keys = append(g.Keys, k)
		}
	}
	return g, nil
}

// Gateway returns a merchant's gateway for a dialect, with its credentials
// (without secrets).
func (s *Service) Gateway(ctx context.Context, merchantID int64, d Dialect) (Gateway, error) {
	if _, err := ParseDialect(string(d)); err != nil {
		return Gateway{}, err
	}
	if _, err := s.Get(ctx, merchantID); err != nil {
		return Gateway{}, err
	}
	return s.gateway(ctx, merchantID, d, true)
}

// Gateways returns a merchant's gateways for every dialect.
func (s *Service) Gateways(ctx context.Context, merchantID int64) ([]Gateway, error) {
	out := make([]Gateway, 0, len(Dialects()))
	for _, d := range Dialects() {
		g, err := s.Gateway(ctx, merchantID, d)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func (s *Service) save(ctx context.Context, g *Gateway) error {
	b, err := json.Marshal(g.settings())
	if err != nil {
		return err
	}
	g.UpdatedAt = s.clock()
	return ledger.FromStore(s.st.SaveGateway(ctx, store.Gateway{
		MerchantID: g.MerchantID, Dialect: string(g.Dialect), Open: g.Open, Settings: b, UpdatedAt: g.UpdatedAt,
	}), nil)
}

// SetOpen opens or closes a merchant's gateway. A closed gateway answers
// as the original does for a closed one, and changes nothing.
func (s *Service) SetOpen(ctx context.Context, merchantID int64, d Dialect, open bool) (Gateway, error) {
	g, err := s.Gateway(ctx, merchantID, d)
	if err != nil {
		return Gateway{}, err
	}
	g.Open = open
	if err := s.save(ctx, &g); err != nil {
		return Gateway{}, err
	}
	s.log.InfoContext(ctx, "gateway switched", "merchant", merchantID, "dialect", d, "open", open)
	return g, nil
}

// UpdateSettings changes a merchant's gateway settings from a JSON object
// of the dialect's settings fields: the fields it has replace the current
// values, the others stay. Unknown fields are refused.
func (s *Service) UpdateSettings(ctx context.Context, merchantID int64, d Dialect, patch []byte) (Gateway, error) {
	g, err := s.Gateway(ctx, merchantID, d)
	if err != nil {
		return Gateway{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.DisallowUnknownFields()
	if err := dec.Decode(g.settings()); err != nil {
		e := *ErrInvalidSettings
		e.Message = "settings must be a JSON object of the dialect's fields: " + jsonProblem(err)
		return Gateway{}, &e
	}
	if _, err := dec.Token(); err != io.EOF {
		e := *ErrInvalidSettings
		e.Message = "settings must be one JSON object"
		return Gateway{}, &e
	}
	if err := g.validate(); err != nil {
		return Gateway{}, err
	}
	if err := s.save(ctx, &g); err != nil {
		return Gateway{}, err
	}
	s.log.InfoContext(ctx, "gateway settings changed", "merchant", merchantID, "dialect", d)
	return g, nil
}

// jsonProblem describes a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + name
	}
	return strings.TrimPrefix(msg, "json: ")
}

// parsePercentPPM reads a percentage (0-100, at most 4 decimals) as parts
// per million: "21" is 210000.
func parsePercentPPM(s string) (int64, error) {
	v, err := money.Parse(s, 4)
	if err != nil || v < 0 || v > 1_000_000 {
		return 0, fmt.Errorf("bad percentage %q", s)
	}
	return v, nil
}
