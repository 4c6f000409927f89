package cmmp

import (
	"strings"

	"github.com/coffer-pay/coffer/internal/money"
)

// Points travel as decimal text ("10", "-10", "2.50"). The base plugin
// stores them as DECIMAL(12,2) and, unless the site enables decimals,
// rounds them to integers: half up, or half down when the site says so
// (WIRE-NOTES §5.3). Coffer reads the text exactly — never through
// floating point — and rounds on the digits.

// MaxIntDigits bounds the integer part of points: DECIMAL(12,2) holds at
// most 9999999999.99.
const MaxIntDigits = 10

// Rounding modes of points given with decimals when the merchant's points
// have none (merchant.CMMPSettings.Rounding).
const (
	HalfUp   = "half_up"
	HalfDown = "half_down"
)

// pointsError says why a points value was refused; each is answered with
// its own message (see README.md).
type pointsError int

const (
	pointsMissing   pointsError = iota + 1 // empty
	pointsSyntax                           // not a plain decimal number
	pointsPrecision                        // more decimals than the points have
	pointsRange                            // too large for DECIMAL(12,2)
)

func (e pointsError) Error() string {
	switch e {
	case pointsMissing:
		return "points missing"
	case pointsSyntax:
		return "points not a decimal number"
	case pointsPrecision:
		return "points have too many decimals"
	}
	return "points out of range"
}

// ParsePoints reads points sent as text into minor units of the merchant's
// points asset (scale 0: whole points; scale 2: "decimal points" on).
//
// Accepted: optional spaces around, an optional sign, digits with an
// optional fraction ("10", "+10", "-2.5", "10.", ".5"). Refused: exponents
// ("1e3", "1e309"), NaN, Inf, hexadecimal, thousands separators, inner
// spaces. At scale 0 a fraction is rounded on its digits as the base plugin
// rounds: halves away from zero with HalfUp (PHP's round), towards zero
// with HalfDown; anything other than an exact half goes to the nearest
// integer. At scale > 0 a fraction longer than the scale is an error
// unless the extra digits are zeros. The magnitude must stay below 10^10.
func ParsePoints(text string, scale int, rounding string) (int64, error) {
	if scale < 0 || scale > 8 {
		return 0, pointsRange
	}
	s := strings.Trim(text, " \t\n\r\v\f")
	if s == "" {
		return 0, pointsMissing
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !digits(intPart) || !digits(frac) {
		return 0, pointsSyntax
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > MaxIntDigits {
		return 0, pointsRange
	}
	var v int64
	for i := 0; i < len(intPart); i++ {
		v = v*10 + int64(intPart[i]-'0')
	}
	if scale > 0 {
		frac = strings.TrimRight(frac, "0")
		if len(frac) > scale {
			return 0, pointsPrecision
		}
		for i := 0; i < scale; i++ {
			d := int64(0)
			if i < len(frac) {
				d = int64(frac[i] - '0')
			}
			v = v*10 + d
		}
	} else if roundUp(frac, rounding) {
		v++
	}
	if v >= money.Pow10(MaxIntDigits+scale) {
		return 0, pointsRange
	}
	if neg {
		v = -v
	}
	return v, nil
}

// digits reports whether s is only ASCII digits (or empty).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// roundUp reports whether dropping the fraction digits frac must add one
// to the magnitude.
func roundUp(frac, rounding string) bool {
	if frac == "" {
		return false
	}
	switch {
	case frac[0] > '5':
		return true
	case frac[0] < '5':
		return false
	}
	if strings.TrimRight(frac[1:], "0") != "" {
		return true // above the half
	}
	return rounding != HalfDown // exactly the half
}

// FormatPoints writes minor units of points as the base plugin's
// DECIMAL(12,2) column reads from MySQL: always two decimals ("10.00",
// "-2.50"), whatever the merchant's scale.
func FormatPoints(v int64, scale int) string {
	switch scale {
	case 0:
		return money.Format(v, 0) + ".00"
	case 1:
		return money.Format(v, 1) + "0"
	}
	return money.Format(v, scale)
}
