// Package money holds Coffer's exact amounts: integers in minor units with
// a scale per asset, parsed from and formatted to decimal strings without
// ever passing through floating point.
package money

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// MaxScale is the largest number of decimal places an asset may have.
// 10^18 still fits in an int64, so every scale up to 18 is representable.
const MaxScale = 18

// Errors returned by Parse. Callers test them with errors.Is.
var (
	ErrSyntax    = errors.New("not a decimal number")
	ErrPrecision = errors.New("more decimal places than the asset allows")
	ErrOverflow  = errors.New("amount out of range")
	ErrNegative  = errors.New("amount must not be negative")
	ErrScale     = errors.New("scale out of range")
)

var pow10 = func() [MaxScale + 1]int64 {
	var p [MaxScale + 1]int64
	p[0] = 1
	for i := 1; i <= MaxScale; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// Pow10 returns 10^n for 0 <= n <= MaxScale.
func Pow10(n int) int64 { return pow10[n] }

// Parse reads a decimal string such as "9.99", "-3" or "0.5" into minor
// units at the given scale. It accepts an optional leading '-', digits,
// and an optional fraction of at most scale digits. Exponents, spaces, '+',
// thousands separators, "NaN" and "Inf" are syntax errors. Trailing zeros
// beyond the scale are accepted ("1.50" at scale 1 is 15) because they do
// not change the value.
func Parse(s string, scale int) (int64, error) {
	if scale < 0 || scale > MaxScale {
		return 0, ErrScale
	}
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrSyntax)
	}
	neg := false
	body := s
	if body[0] == '-' {
		neg = true
		body = body[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	if hasDot && frac == "" {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
			}
		}
	}
	// Drop trailing zeros of the fraction that exceed the scale.
	for len(frac) > scale && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) > scale {
		return 0, fmt.Errorf("%w: %q has %d decimals, at most %d allowed", ErrPrecision, s, len(frac), scale)
	}
	// Accumulate as a negative number so that math.MinInt64 parses.
	var v int64
	add := func(d byte) error {
		if v < (math.MinInt64+int64(d-'0'))/10 {
			return ErrOverflow
		}
		v = v*10 - int64(d-'0')
		return nil
	}
	for i := 0; i < len(intPart); i++ {
		if err := add(intPart[i]); err != nil {
			return 0, fmt.Errorf("%w: %q", ErrOverflow, s)
		}
	}
	for i := 0; i < scale; i++ {
		d := byte('0')
		if i < len(frac) {
			d = frac[i]
		}
		if err := add(d); err != nil {
			return 0, fmt.Errorf("%w: %q", ErrOverflow, s)
		}
	}
	if neg {
		return v, nil
	}
	if v == math.MinInt64 {
		return 0, fmt.Errorf("%w: %q", ErrOverflow, s)
	}
	return -v, nil
}

// ParsePositive is Parse that also refuses zero and negative values.
func ParsePositive(s string, scale int) (int64, error) {
	v, err := Parse(s, scale)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("%w: %q", ErrNegative, s)
	}
	if v == 0 {
		return 0, fmt.Errorf("%w: %q must be greater than zero", ErrSyntax, s)
	}
	return v, nil
}

// Format writes minor units as a decimal string with exactly scale
// decimals: Format(999, 2) == "9.99", Format(-5, 3) == "-0.005".
func Format(v int64, scale int) string {
	if scale < 0 || scale > MaxScale {
		panic("money: scale out of range")
	}
	neg := v < 0
	// Work on the magnitude as uint64 so that MinInt64 formats.
	u := uint64(v)
	if neg {
		u = -u
	}
	digits := fmt.Sprintf("%d", u)
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// FormatTrim is Format without trailing fractional zeros (and without a
// trailing dot): FormatTrim(450, 2) == "4.5", FormatTrim(400, 2) == "4".
func FormatTrim(v int64, scale int) string {
	s := Format(v, scale)
	if scale == 0 {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Add returns a+b or ErrOverflow.
func Add(a, b int64) (int64, error) {
	c := a + b
	if (c > a) != (b > 0) {
		return 0, ErrOverflow
	}
	return c, nil
}

// Sub returns a-b or ErrOverflow.
func Sub(a, b int64) (int64, error) {
	c := a - b
	if (c < a) != (b > 0) {
		return 0, ErrOverflow
	}
	return c, nil
}
