// Package pricing converts amounts between currencies at configured
// exchange rates and computes tax added to or included in an amount, all
// exactly: rates and tax rates are decimal strings, intermediate values are
// rationals (math/big), and every result is rounded once, half-up (away
// from zero on .5), at the target currency's scale. No float64 anywhere.
package pricing

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/coffer-pay/coffer/internal/money"
)

// Errors.
var (
	ErrRate     = errors.New("rate must be a positive decimal number with at most 12 decimals")
	ErrTaxRate  = errors.New("tax rate must be a decimal percentage between 0 and 1000 with at most 6 decimals")
	ErrOverflow = errors.New("result out of range")
)

// MaxRateDecimals bounds the precision of exchange rates.
const MaxRateDecimals = 12

// Rate is an exact positive decimal, such as an exchange rate.
type Rate struct{ r *big.Rat }

// ParseRate reads a decimal such as "1.0834" or "0.000061".
func ParseRate(s string) (Rate, error) {
	r, err := parseDecimal(s, MaxRateDecimals)
	if err != nil || r.Sign() <= 0 {
		return Rate{}, fmt.Errorf("%w: %q", ErrRate, s)
	}
	return Rate{r}, nil
}

// String is the rate's canonical decimal text.
func (r Rate) String() string {
	if r.r == nil {
		return "0"
	}
	return decimalString(r.r, MaxRateDecimals)
}

// IsZero reports whether r is the zero value (no rate).
func (r Rate) IsZero() bool { return r.r == nil }

// parseDecimal parses an unsigned decimal with at most maxDec decimals.
func parseDecimal(s string, maxDec int) (*big.Rat, error) {
	if s == "" || len(s) > 40 {
		return nil, errors.New("bad decimal")
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" || len(frac) > maxDec || strings.Contains(s, ".") && frac == "" {
		return nil, errors.New("bad decimal")
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return nil, errors.New("bad decimal")
		}
	}
	num, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return nil, errors.New("bad decimal")
	}
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	return new(big.Rat).SetFrac(num, den), nil
}

// decimalString writes r with up to maxDec decimals, trailing zeros trimmed.
func decimalString(r *big.Rat, maxDec int) string {
	s := r.FloatString(maxDec)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// roundHalfUp rounds r to an integer, halves away from zero.
func roundHalfUp(r *big.Rat) *big.Int {
	num := new(big.Int).Set(r.Num())
	den := r.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(m, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q
}

func toInt64(i *big.Int) (int64, error) {
	if !i.IsInt64() {
		return 0, ErrOverflow
	}
	return i.Int64(), nil
}

// Convert converts amount (minor units at fromScale) by rate into minor
// units at toScale: amount × rate × 10^(toScale−fromScale), rounded
// half-up once.
func Convert(amount int64, fromScale int, rate Rate, toScale int) (int64, error) {
	if rate.r == nil {
		return 0, ErrRate
	}
	v := new(big.Rat).SetInt64(amount)
	v.Mul(v, rate.r)
	shift := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(toScale-fromScale))), nil))
	if toScale >= fromScale {
		v.Mul(v, shift)
	} else {
		v.Quo(v, shift)
	}
	return toInt64(roundHalfUp(v))
}

// CrossRate is the rate that converts from a currency to another when
// each has a rate against the same base (units of base per unit of the
// currency): from/to.
func CrossRate(fromPerBase, toPerBase Rate) Rate {
	return Rate{new(big.Rat).Quo(fromPerBase.r, toPerBase.r)}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TaxRate is a percentage such as "20" or "7.5", exact.
type TaxRate struct{ pct *big.Rat }

// ParseTaxRate reads a percentage between 0 and 1000 with at most 6
// decimals. The empty string is 0.
func ParseTaxRate(s string) (TaxRate, error) {
	if s == "" {
		return TaxRate{new(big.Rat)}, nil
	}
	r, err := parseDecimal(s, 6)
	if err != nil || r.Cmp(big.NewRat(1000, 1)) > 0 {
		return TaxRate{}, fmt.Errorf("%w: %q", ErrTaxRate, s)
	}
	return TaxRate{r}, nil
}

// String is the percentage's canonical text.
func (t TaxRate) String() string {
	if t.pct == nil {
		return "0"
	}
	return decimalString(t.pct, 6)
}

// Split is an amount with its tax: Gross = Net + Tax.
type Split struct {
	Net, Tax, Gross int64
}

// AddTax treats net as the amount without tax and adds tax on top:
// tax = round(net × pct/100), gross = net + tax.
func AddTax(net int64, t TaxRate) (Split, error) {
	pct := t.pct
	if pct == nil {
		pct = new(big.Rat)
	}
	tax := new(big.Rat).Mul(new(big.Rat).SetInt64(net), pct)
	tax.Quo(tax, big.NewRat(100, 1))
	tx, err := toInt64(roundHalfUp(tax))
	if err != nil {
		return Split{}, err
	}
	gross, err := money.Add(net, tx)
	if err != nil {
		return Split{}, ErrOverflow
	}
	return Split{Net: net, Tax: tx, Gross: gross}, nil
}

// IncludedTax treats gross as the amount with tax included:
// net = round(gross / (1 + pct/100)), tax = gross − net.
func IncludedTax(gross int64, t TaxRate) (Split, error) {
	pct := t.pct
	if pct == nil {
		pct = new(big.Rat)
	}
	factor := new(big.Rat).Add(big.NewRat(1, 1), new(big.Rat).Quo(pct, big.NewRat(100, 1)))
	net := new(big.Rat).Quo(new(big.Rat).SetInt64(gross), factor)
	n, err := toInt64(roundHalfUp(net))
	if err != nil {
		return Split{}, err
	}
	return Split{Net: n, Tax: gross - n, Gross: gross}, nil
}
