package cmmp

import (
	"math/big"
	"strings"
	"testing"
)

func TestParsePoints(t *testing.T) {
	tests := []struct {
		text     string
		scale    int
		rounding string
		want     int64
		err      error
	}{
		{"10", 0, HalfUp, 10, nil},
		{"-10", 0, HalfUp, -10, nil},
		{"+10", 0, HalfUp, 10, nil},
		{" \t10\n", 0, HalfUp, 10, nil},
		{"007", 0, HalfUp, 7, nil},
		{"10.", 0, HalfUp, 10, nil},
		{".5", 0, HalfUp, 1, nil},
		{"10.5", 0, HalfUp, 11, nil},
		{"10.5", 0, HalfDown, 10, nil},
		{"10.50000", 0, HalfDown, 10, nil},
		{"10.500001", 0, HalfDown, 11, nil},
		{"10.4999999999999999999", 0, HalfUp, 10, nil}, // float64 would say 10.5 → 11
		{"-10.5", 0, HalfUp, -11, nil},
		{"-10.5", 0, HalfDown, -10, nil},
		{"0.4", 0, HalfUp, 0, nil},
		{"-0", 0, HalfUp, 0, nil},
		{"9999999999", 0, HalfUp, 9999999999, nil},
		{"9999999999.4", 0, HalfUp, 9999999999, nil},
		{"9999999999.5", 0, HalfUp, 0, pointsRange},
		{"9999999999.5", 0, HalfDown, 9999999999, nil},
		{"10000000000", 0, HalfUp, 0, pointsRange},
		{"00000000000000000001", 0, HalfUp, 1, nil},
		{"2.50", 2, HalfUp, 250, nil},
		{"2.5", 2, HalfUp, 250, nil},
		{"2.500000", 2, HalfUp, 250, nil},
		{"-0.01", 2, HalfUp, -1, nil},
		{"2.505", 2, HalfUp, 0, pointsPrecision},
		{"9999999999.99", 2, HalfUp, 999999999999, nil},
		{"10000000000.00", 2, HalfUp, 0, pointsRange},
		{"", 0, HalfUp, 0, pointsMissing},
		{"   ", 0, HalfUp, 0, pointsMissing},
		{".", 0, HalfUp, 0, pointsSyntax},
		{"-", 0, HalfUp, 0, pointsSyntax},
		{"+-1", 0, HalfUp, 0, pointsSyntax},
		{"--1", 0, HalfUp, 0, pointsSyntax},
		{"1e3", 0, HalfUp, 0, pointsSyntax},
		{"1e309", 0, HalfUp, 0, pointsSyntax},
		{"1E2", 2, HalfUp, 0, pointsSyntax},
		{"NaN", 0, HalfUp, 0, pointsSyntax},
		{"Inf", 0, HalfUp, 0, pointsSyntax},
		{"-Infinity", 0, HalfUp, 0, pointsSyntax},
		{"0x1A", 0, HalfUp, 0, pointsSyntax},
		{"1,000", 0, HalfUp, 0, pointsSyntax},
		{"1 000", 0, HalfUp, 0, pointsSyntax},
		{"1.2.3", 0, HalfUp, 0, pointsSyntax},
		{"١٢", 0, HalfUp, 0, pointsSyntax}, // Arabic-Indic digits
		{"12abc", 0, HalfUp, 0, pointsSyntax},
		{strings.Repeat("9", 1000), 0, HalfUp, 0, pointsRange},
	}
	for _, tt := range tests {
		got, err := ParsePoints(tt.text, tt.scale, tt.rounding)
		if err != tt.err || err == nil && got != tt.want {
			t.Errorf("ParsePoints(%q, %d, %s) = %d, %v; want %d, %v", tt.text, tt.scale, tt.rounding, got, err, tt.want, tt.err)
		}
	}
}

func TestFormatPoints(t *testing.T) {
	for _, tt := range []struct {
		v     int64
		scale int
		want  string
	}{{10, 0, "10.00"}, {-3, 0, "-3.00"}, {0, 0, "0.00"}, {1250, 2, "12.50"}, {-5, 2, "-0.05"}, {15, 1, "1.50"}, {9223372036854775807, 0, "9223372036854775807.00"}} {
		if got := FormatPoints(tt.v, tt.scale); got != tt.want {
			t.Errorf("FormatPoints(%d, %d) = %q, want %q", tt.v, tt.scale, got, tt.want)
		}
	}
}

// reference parses the same grammar with math/big and rounds the exact
// value, independently of ParsePoints' digit handling.
func reference(text string, scale int, rounding string) (*big.Int, bool) {
	s := strings.Trim(text, " \t\n\r\v\f")
	if s == "" || strings.ContainsAny(s, "eEpPxX_") || strings.Count(s, ".") > 1 {
		return nil, false
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" || body == "." || strings.TrimLeft(body, "0123456789.") != "" {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, false
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	neg := r.Sign() < 0
	r.Abs(r)
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		twice := new(big.Int).Mul(m, big.NewInt(2))
		switch c := twice.Cmp(r.Denom()); {
		case c > 0, c == 0 && rounding != HalfDown:
			q.Add(q, big.NewInt(1))
		}
	}
	if neg {
		q.Neg(q)
	}
	return q, true
}

// FuzzParsePoints: no input panics; an accepted value is what exact
// arithmetic gives, within DECIMAL(12,2)'s range; at scale 2 nothing is
// ever rounded.
func FuzzParsePoints(f *testing.F) {
	for _, s := range []string{"10", "-10", "10.5", "2.505", "1e309", "NaN", "", " 7 ", ".5", "9999999999.5", strings.Repeat("9", 40), "+0.000", "-.", "1.2.3"} {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, text string, decimal, halfDown bool) {
		scale, rounding := 0, HalfUp
		if decimal {
			scale = 2
		}
		if halfDown {
			rounding = HalfDown
		}
		got, err := ParsePoints(text, scale, rounding)
		ref, refOK := reference(text, scale, rounding)
		limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(MaxIntDigits+scale)), nil)
		switch {
		case err == nil:
			if !refOK {
				t.Fatalf("ParsePoints(%q) = %d, but the text is not a plain decimal", text, got)
			}
			if ref.Cmp(big.NewInt(got)) != 0 {
				t.Fatalf("ParsePoints(%q, %d, %s) = %d, want %s", text, scale, rounding, got, ref)
			}
			if new(big.Int).Abs(ref).Cmp(limit) >= 0 {
				t.Fatalf("ParsePoints(%q) = %d: out of range", text, got)
			}
		case err == pointsRange:
			if refOK && new(big.Int).Abs(ref).Cmp(limit) < 0 {
				t.Fatalf("ParsePoints(%q) refused %s as out of range", text, ref)
			}
		case err == pointsPrecision:
			if scale == 0 || !refOK {
				t.Fatalf("ParsePoints(%q, %d) = precision error", text, scale)
			}
		case err == pointsMissing:
			if strings.Trim(text, " \t\n\r\v\f") != "" {
				t.Fatalf("ParsePoints(%q) = missing", text)
			}
		case err == pointsSyntax:
			if refOK {
				t.Fatalf("ParsePoints(%q) refused a plain decimal", text)
			}
		default:
			t.Fatalf("ParsePoints(%q): unexpected error %v", text, err)
		}
		if err == nil && scale == 2 {
			// Exact: the value written back reads the same.
			back := FormatPoints(got, 2)
			if again, err := ParsePoints(back, 2, rounding); err != nil || again != got {
				t.Fatalf("%q → %d → %q → %d, %v", text, got, back, again, err)
			}
		}
	})
}
