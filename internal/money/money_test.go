package money

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

// sentinels lists every error Parse and ParsePositive may wrap.
var sentinels = []error{ErrSyntax, ErrPrecision, ErrOverflow, ErrNegative, ErrScale}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func TestPow10(t *testing.T) {
	want := int64(1)
	for n := 0; n <= MaxScale; n++ {
		if got := Pow10(n); got != want {
			t.Errorf("Pow10(%d) = %d, want %d", n, got, want)
		}
		if n < MaxScale {
			want *= 10
		}
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		scale int
		want  int64
	}{
		// scale 0
		{"s0 integer", "42", 0, 42},
		{"s0 zero", "0", 0, 0},
		{"s0 negative zero", "-0", 0, 0},
		{"s0 negative", "-3", 0, -3},
		{"s0 leading zeros", "007", 0, 7},
		{"s0 trailing zero fraction", "5.0", 0, 5},
		{"s0 many trailing zeros", "5.000000", 0, 5},
		{"s0 zero fraction only", ".0", 0, 0},
		{"s0 max", "9223372036854775807", 0, math.MaxInt64},
		{"s0 min", "-9223372036854775808", 0, math.MinInt64},
		{"s0 max leading zeros", "0009223372036854775807", 0, math.MaxInt64},
		{"s0 min leading zeros", "-0009223372036854775808", 0, math.MinInt64},

		// scale 1
		{"s1 trailing zero beyond scale", "1.50", 1, 15},
		{"s1 many trailing zeros", "1.5000", 1, 15},

		// scale 2
		{"s2 typical", "9.99", 2, 999},
		{"s2 half", "0.5", 2, 50},
		{"s2 leading dot", ".5", 2, 50},
		{"s2 negative leading dot", "-.5", 2, -50},
		{"s2 integer", "-3", 2, -300},
		{"s2 exact", "1.50", 2, 150},
		{"s2 trailing zeros", "1.5000", 2, 150},
		{"s2 one cent", "0.01", 2, 1},
		{"s2 minus one cent", "-0.01", 2, -1},
		{"s2 leading zeros", "000123.45", 2, 12345},
		{"s2 negative zero", "-0.00", 2, 0},
		{"s2 max", "92233720368547758.07", 2, math.MaxInt64},
		{"s2 min", "-92233720368547758.08", 2, math.MinInt64},
		{"s2 max minus", "92233720368547758.06", 2, math.MaxInt64 - 1},
		{"s2 min plus", "-92233720368547758.07", 2, math.MinInt64 + 1},
		{"s2 max trailing zeros", "92233720368547758.0700", 2, math.MaxInt64},

		// scale 3
		{"s3 typical", "1.234", 3, 1234},
		{"s3 short fraction", "1.2", 3, 1200},
		{"s3 small negative", "-0.005", 3, -5},
		{"s3 leading dot", ".001", 3, 1},
		{"s3 integer", "-3", 3, -3000},
		{"s3 max", "9223372036854775.807", 3, math.MaxInt64},
		{"s3 min", "-9223372036854775.808", 3, math.MinInt64},

		// scale 18
		{"s18 one", "1", 18, 1_000_000_000_000_000_000},
		{"s18 smallest", "0.000000000000000001", 18, 1},
		{"s18 smallest negative", "-0.000000000000000001", 18, -1},
		{"s18 leading dot", ".5", 18, 500_000_000_000_000_000},
		{"s18 max", "9.223372036854775807", 18, math.MaxInt64},
		{"s18 min", "-9.223372036854775808", 18, math.MinInt64},
		{"s18 trailing zeros", "1.0000000000000000000000", 18, 1_000_000_000_000_000_000},
		{"s18 leading zeros", "00000000000000000000009.2", 18, 9_200_000_000_000_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, tt.scale)
			if err != nil {
				t.Fatalf("Parse(%q, %d) error: %v", tt.in, tt.scale, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q, %d) = %d, want %d", tt.in, tt.scale, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	huge := strings.Repeat("9", 400)
	tests := []struct {
		name  string
		in    string
		scale int
		want  error
	}{
		// syntax
		{"empty", "", 2, ErrSyntax},
		{"minus only", "-", 2, ErrSyntax},
		{"dot only", ".", 2, ErrSyntax},
		{"minus dot", "-.", 2, ErrSyntax},
		{"trailing dot", "1.", 2, ErrSyntax},
		{"trailing dot scale 0", "1.", 0, ErrSyntax},
		{"negative trailing dot", "-1.", 2, ErrSyntax},
		{"plus sign", "+1", 2, ErrSyntax},
		{"double minus", "--1", 2, ErrSyntax},
		{"minus after digit", "1-", 2, ErrSyntax},
		{"exponent", "1e3", 2, ErrSyntax},
		{"upper exponent", "1E3", 0, ErrSyntax},
		{"huge exponent", "1e309", 2, ErrSyntax},
		{"negative exponent", "1e-2", 2, ErrSyntax},
		{"NaN", "NaN", 2, ErrSyntax},
		{"Inf", "Inf", 2, ErrSyntax},
		{"negative Inf", "-Inf", 2, ErrSyntax},
		{"Infinity", "Infinity", 2, ErrSyntax},
		{"leading space", " 1", 2, ErrSyntax},
		{"trailing space", "1 ", 2, ErrSyntax},
		{"inner space", "1 000", 2, ErrSyntax},
		{"tab", "1\t", 2, ErrSyntax},
		{"newline", "1\n", 2, ErrSyntax},
		{"thousands comma", "1,000", 2, ErrSyntax},
		{"decimal comma", "1,5", 2, ErrSyntax},
		{"underscore", "1_000", 2, ErrSyntax},
		{"hex", "0x10", 2, ErrSyntax},
		{"arabic-indic digit", "١", 2, ErrSyntax},
		{"fullwidth digit", "１", 0, ErrSyntax},
		{"two dots", "1.2.3", 3, ErrSyntax},
		{"double dot", "1..2", 3, ErrSyntax},
		{"letter in fraction", "1.2a", 3, ErrSyntax},
		{"NUL byte", "1\x00", 0, ErrSyntax},
		{"invalid utf8", "\xff", 0, ErrSyntax},
		{"syntax before precision", "1.001x", 2, ErrSyntax},
		{"syntax before overflow", huge + "x", 2, ErrSyntax},

		// precision
		{"three decimals at 2", "1.001", 2, ErrPrecision},
		{"negative three decimals at 2", "-1.001", 2, ErrPrecision},
		{"half at 0", "0.5", 0, ErrPrecision},
		{"leading dot at 0", ".5", 0, ErrPrecision},
		{"two decimals at 1", "1.05", 1, ErrPrecision},
		{"nonzero after zeros", "1.0001", 3, ErrPrecision},
		{"nineteen decimals at 18", "0.0000000000000000001", 18, ErrPrecision},
		{"precision before overflow", huge + ".001", 2, ErrPrecision},

		// overflow
		{"max plus one s0", "9223372036854775808", 0, ErrOverflow},
		{"min minus one s0", "-9223372036854775809", 0, ErrOverflow},
		{"max plus one s2", "92233720368547758.08", 2, ErrOverflow},
		{"min minus one s2", "-92233720368547758.09", 2, ErrOverflow},
		{"max plus one s3", "9223372036854775.808", 3, ErrOverflow},
		{"max plus one s18", "9.223372036854775808", 18, ErrOverflow},
		{"min minus one s18", "-9.223372036854775809", 18, ErrOverflow},
		{"ten at s18", "10", 18, ErrOverflow},
		{"huge", huge, 2, ErrOverflow},
		{"huge negative", "-" + huge, 0, ErrOverflow},
		{"huge with fraction", huge + ".99", 2, ErrOverflow},
		{"uint64 max", "18446744073709551615", 0, ErrOverflow},
		{"2^64", "18446744073709551616", 0, ErrOverflow},

		// scale
		{"scale -1", "1", -1, ErrScale},
		{"scale 19", "1", 19, ErrScale},
		{"scale huge", "1", math.MaxInt, ErrScale},
		{"scale min", "1", math.MinInt, ErrScale},
		{"scale checked first", "", 19, ErrScale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, tt.scale)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q, %d) = %d, %v; want error %v", tt.in, tt.scale, got, err, tt.want)
			}
			if got != 0 {
				t.Errorf("Parse(%q, %d) returned %d alongside error, want 0", tt.in, tt.scale, got)
			}
			for _, other := range sentinels {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Parse(%q, %d) error %v also matches %v", tt.in, tt.scale, err, other)
				}
			}
		})
	}
}

func TestParsePositive(t *testing.T) {
	valid := []struct {
		in    string
		scale int
		want  int64
	}{
		{"0.01", 2, 1},
		{"9.99", 2, 999},
		{"1", 0, 1},
		{".001", 3, 1},
		{"92233720368547758.07", 2, math.MaxInt64},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePositive(tt.in, tt.scale)
			if err != nil {
				t.Fatalf("ParsePositive(%q, %d) error: %v", tt.in, tt.scale, err)
			}
			if got != tt.want {
				t.Errorf("ParsePositive(%q, %d) = %d, want %d", tt.in, tt.scale, got, tt.want)
			}
		})
	}

	invalid := []struct {
		name  string
		in    string
		scale int
		want  error
	}{
		{"zero", "0", 2, ErrSyntax},
		{"zero with decimals", "0.00", 2, ErrSyntax},
		{"negative zero", "-0", 0, ErrSyntax},
		{"negative", "-1", 2, ErrNegative},
		{"negative cent", "-0.01", 2, ErrNegative},
		{"min", "-92233720368547758.08", 2, ErrNegative},
		{"syntax passes through", "abc", 2, ErrSyntax},
		{"precision passes through", "1.001", 2, ErrPrecision},
		{"overflow passes through", "92233720368547758.08", 2, ErrOverflow},
		{"scale passes through", "1", 19, ErrScale},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePositive(tt.in, tt.scale)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParsePositive(%q, %d) = %d, %v; want error %v", tt.in, tt.scale, got, err, tt.want)
			}
			if got != 0 {
				t.Errorf("ParsePositive(%q, %d) returned %d alongside error, want 0", tt.in, tt.scale, got)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v     int64
		scale int
		want  string
		trim  string
	}{
		{0, 0, "0", "0"},
		{7, 0, "7", "7"},
		{-7, 0, "-7", "-7"},
		{100, 0, "100", "100"},
		{-100, 0, "-100", "-100"},
		{math.MaxInt64, 0, "9223372036854775807", "9223372036854775807"},
		{math.MinInt64, 0, "-9223372036854775808", "-9223372036854775808"},

		{0, 1, "0.0", "0"},
		{15, 1, "1.5", "1.5"},
		{5, 1, "0.5", "0.5"},

		{0, 2, "0.00", "0"},
		{999, 2, "9.99", "9.99"},
		{450, 2, "4.50", "4.5"},
		{400, 2, "4.00", "4"},
		{1000, 2, "10.00", "10"},
		{-1000, 2, "-10.00", "-10"},
		{1, 2, "0.01", "0.01"},
		{-1, 2, "-0.01", "-0.01"},
		{10, 2, "0.10", "0.1"},
		{-10, 2, "-0.10", "-0.1"},
		{-300, 2, "-3.00", "-3"},
		{math.MaxInt64, 2, "92233720368547758.07", "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08", "-92233720368547758.08"},

		{-5, 3, "-0.005", "-0.005"},
		{5, 3, "0.005", "0.005"},
		{-50, 3, "-0.050", "-0.05"},
		{-1234, 3, "-1.234", "-1.234"},
		{1000, 3, "1.000", "1"},
		{math.MaxInt64, 3, "9223372036854775.807", "9223372036854775.807"},
		{math.MinInt64, 3, "-9223372036854775.808", "-9223372036854775.808"},

		{0, 18, "0.000000000000000000", "0"},
		{1, 18, "0.000000000000000001", "0.000000000000000001"},
		{-1, 18, "-0.000000000000000001", "-0.000000000000000001"},
		{1_000_000_000_000_000_000, 18, "1.000000000000000000", "1"},
		{math.MaxInt64, 18, "9.223372036854775807", "9.223372036854775807"},
		{math.MinInt64, 18, "-9.223372036854775808", "-9.223372036854775808"},
		{math.MinInt64 + 8, 18, "-9.223372036854775800", "-9.2233720368547758"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Format(tt.v, tt.scale); got != tt.want {
				t.Errorf("Format(%d, %d) = %q, want %q", tt.v, tt.scale, got, tt.want)
			}
			if got := FormatTrim(tt.v, tt.scale); got != tt.trim {
				t.Errorf("FormatTrim(%d, %d) = %q, want %q", tt.v, tt.scale, got, tt.trim)
			}
		})
	}
}

func TestFormatBadScalePanics(t *testing.T) {
	for _, scale := range []int{-1, MaxScale + 1} {
		t.Run("", func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Format(1, %d) did not panic", scale)
				}
			}()
			_ = Format(1, scale)
		})
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name     string
		a, b     int64
		want     int64
		overflow bool
	}{
		{"small", 1, 2, 3, false},
		{"zero", 0, 0, 0, false},
		{"mixed signs", -5, 3, -2, false},
		{"max plus zero", math.MaxInt64, 0, math.MaxInt64, false},
		{"min plus zero", math.MinInt64, 0, math.MinInt64, false},
		{"max plus min", math.MaxInt64, math.MinInt64, -1, false},
		{"min plus max", math.MinInt64, math.MaxInt64, -1, false},
		{"max minus one plus one", math.MaxInt64 - 1, 1, math.MaxInt64, false},
		{"min plus one minus one", math.MinInt64 + 1, -1, math.MinInt64, false},
		{"max plus one", math.MaxInt64, 1, 0, true},
		{"one plus max", 1, math.MaxInt64, 0, true},
		{"max plus max", math.MaxInt64, math.MaxInt64, 0, true},
		{"min minus one", math.MinInt64, -1, 0, true},
		{"minus one plus min", -1, math.MinInt64, 0, true},
		{"min plus min", math.MinInt64, math.MinInt64, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Add(tt.a, tt.b)
			if tt.overflow {
				if !errors.Is(err, ErrOverflow) {
					t.Fatalf("Add(%d, %d) = %d, %v; want ErrOverflow", tt.a, tt.b, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Add(%d, %d) error: %v", tt.a, tt.b, err)
			}
			if got != tt.want {
				t.Errorf("Add(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestSub(t *testing.T) {
	tests := []struct {
		name     string
		a, b     int64
		want     int64
		overflow bool
	}{
		{"small", 5, 3, 2, false},
		{"zero", 0, 0, 0, false},
		{"negative result", 3, 5, -2, false},
		{"max minus zero", math.MaxInt64, 0, math.MaxInt64, false},
		{"min minus zero", math.MinInt64, 0, math.MinInt64, false},
		{"max minus max", math.MaxInt64, math.MaxInt64, 0, false},
		{"min minus min", math.MinInt64, math.MinInt64, 0, false},
		{"minus one minus min", -1, math.MinInt64, math.MaxInt64, false},
		{"minus one minus max", -1, math.MaxInt64, math.MinInt64, false},
		{"max minus one minus minus one", math.MaxInt64 - 1, -1, math.MaxInt64, false},
		{"min plus one minus one", math.MinInt64 + 1, 1, math.MinInt64, false},
		{"min minus one", math.MinInt64, 1, 0, true},
		{"max minus minus one", math.MaxInt64, -1, 0, true},
		{"zero minus min", 0, math.MinInt64, 0, true},
		{"max minus min", math.MaxInt64, math.MinInt64, 0, true},
		{"min minus max", math.MinInt64, math.MaxInt64, 0, true},
		{"minus two minus max", -2, math.MaxInt64, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sub(tt.a, tt.b)
			if tt.overflow {
				if !errors.Is(err, ErrOverflow) {
					t.Fatalf("Sub(%d, %d) = %d, %v; want ErrOverflow", tt.a, tt.b, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sub(%d, %d) error: %v", tt.a, tt.b, err)
			}
			if got != tt.want {
				t.Errorf("Sub(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCurrencyScale(t *testing.T) {
	tests := []struct {
		code  string
		scale int
		ok    bool
	}{
		{"USD", 2, true},
		{"EUR", 2, true},
		{"JPY", 0, true},
		{"KRW", 0, true},
		{"BHD", 3, true},
		{"KWD", 3, true},
		{"UYW", 4, true},
		{"XXX", 0, false},
		{"usd", 0, false},
		{"", 0, false},
		{"BTC", 0, false},
		{"USDT", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			scale, ok := CurrencyScale(tt.code)
			if scale != tt.scale || ok != tt.ok {
				t.Errorf("CurrencyScale(%q) = %d, %v; want %d, %v", tt.code, scale, ok, tt.scale, tt.ok)
			}
		})
	}
}

func TestCurrencies(t *testing.T) {
	all := Currencies()
	if len(all) != len(iso4217) {
		t.Fatalf("Currencies() has %d entries, want %d", len(all), len(iso4217))
	}
	for code, scale := range all {
		if !ValidAssetCode(code) {
			t.Errorf("currency %q is not a valid asset code", code)
		}
		if scale < 0 || scale > MaxScale {
			t.Errorf("currency %q has scale %d outside 0..%d", code, scale, MaxScale)
		}
		if s, ok := CurrencyScale(code); !ok || s != scale {
			t.Errorf("CurrencyScale(%q) = %d, %v; Currencies() says %d", code, s, ok, scale)
		}
	}
	// The result is a copy: changing it must not affect the package table.
	all["USD"] = 7
	delete(all, "EUR")
	if s, _ := CurrencyScale("USD"); s != 2 {
		t.Errorf("mutating Currencies() changed USD scale to %d", s)
	}
	if _, ok := CurrencyScale("EUR"); !ok {
		t.Errorf("deleting from Currencies() removed EUR from the table")
	}
}

func TestValidAssetCode(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"USD", true},
		{"A", true},
		{"BTC", true},
		{"USDC.E", true},
		{"POINTS_2024", true},
		{"X1", true},
		{"ABCDEFGHIJKLMNOP", true}, // 16 characters
		{"", false},
		{"ABCDEFGHIJKLMNOPQ", false}, // 17 characters
		{"usd", false},
		{"Usd", false},
		{"1USD", false},
		{"_USD", false},
		{".USD", false},
		{"US D", false},
		{"US-D", false},
		{"USD ", false},
		{"US$", false},
		{"ÉUR", false},
		{"USD\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := ValidAssetCode(tt.code); got != tt.want {
				t.Errorf("ValidAssetCode(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

// reference is an independent, math/big based model of Parse used as an
// oracle by FuzzParse. It returns the value, the canonical Format output and
// the sentinel error Parse is expected to wrap.
func reference(s string, scale int) (int64, string, error) {
	if scale < 0 || scale > MaxScale {
		return 0, "", ErrScale
	}
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(body, ".")
	digitsOnly := func(p string) bool {
		for _, r := range p {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	if (intPart == "" && frac == "") || (hasDot && frac == "") || !digitsOnly(intPart) || !digitsOnly(frac) {
		return 0, "", ErrSyntax
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > scale {
		return 0, "", ErrPrecision
	}
	frac += strings.Repeat("0", scale-len(frac))
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	n, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		panic("reference: bad digits " + intPart + frac)
	}
	if neg {
		n.Neg(n)
	}
	if !n.IsInt64() {
		return 0, "", ErrOverflow
	}
	canon := intPart
	if scale > 0 {
		canon += "." + frac
	}
	if neg && n.Sign() != 0 {
		canon = "-" + canon
	}
	return n.Int64(), canon, nil
}

func FuzzParse(f *testing.F) {
	seeds := []struct {
		s     string
		scale int
	}{
		{"9.99", 2}, {"0.5", 2}, {".5", 2}, {"-.5", 2}, {"-3", 0}, {"1.50", 1},
		{"007", 0}, {"-0", 0}, {"-0.00", 2}, {"0.000000000000000001", 18},
		{"92233720368547758.07", 2}, {"-92233720368547758.08", 2},
		{"92233720368547758.08", 2}, {"-92233720368547758.09", 2},
		{"9223372036854775807", 0}, {"-9223372036854775808", 0},
		{"9223372036854775808", 0}, {"9.223372036854775807", 18},
		{"-9.223372036854775808", 18}, {"18446744073709551616", 0},
		{"", 2}, {"-", 2}, {".", 2}, {"1.", 2}, {"+1", 2}, {"1e3", 2}, {"1e309", 2},
		{"NaN", 2}, {"Inf", 2}, {" 1", 2}, {"1 ", 2}, {"1,000", 2}, {"0x10", 2},
		{"١", 2}, {"1..2", 3}, {"--1", 0}, {"1.001", 2}, {"1.0010", 2},
		{strings.Repeat("9", 100), 2}, {strings.Repeat("0", 100) + "1", 18},
		{"1", -1}, {"1", 19},
	}
	for _, sd := range seeds {
		f.Add(sd.s, sd.scale)
	}
	f.Fuzz(func(t *testing.T, s string, scale int) {
		// Keep most inputs in the valid scale range while still
		// exercising the ErrScale path a little.
		if scale < -2 || scale > MaxScale+2 {
			scale = int(uint(scale) % (MaxScale + 1))
		}
		v, err := Parse(s, scale)
		wantV, canon, wantErr := reference(s, scale)

		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Parse(%q, %d) error %v wraps no sentinel", s, scale, err)
			}
			if v != 0 {
				t.Errorf("Parse(%q, %d) returned %d alongside error", s, scale, v)
			}
			if wantErr == nil {
				t.Fatalf("Parse(%q, %d) error %v, reference says %d", s, scale, err, wantV)
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("Parse(%q, %d) error %v, reference expects %v", s, scale, err, wantErr)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("Parse(%q, %d) = %d, reference expects error %v", s, scale, v, wantErr)
		}
		if v != wantV {
			t.Fatalf("Parse(%q, %d) = %d, reference says %d", s, scale, v, wantV)
		}

		formatted := Format(v, scale)
		if formatted != canon {
			t.Errorf("Format(Parse(%q, %d)) = %q, want canonical %q", s, scale, formatted, canon)
		}
		back, err := Parse(formatted, scale)
		if err != nil || back != v {
			t.Errorf("Parse(Format(%d, %d) = %q) = %d, %v; want %d", v, scale, formatted, back, err, v)
		}
		trimmed := FormatTrim(v, scale)
		back, err = Parse(trimmed, scale)
		if err != nil || back != v {
			t.Errorf("Parse(FormatTrim(%d, %d) = %q) = %d, %v; want %d", v, scale, trimmed, back, err, v)
		}

		pv, perr := ParsePositive(s, scale)
		switch {
		case v > 0:
			if perr != nil || pv != v {
				t.Errorf("ParsePositive(%q, %d) = %d, %v; want %d", s, scale, pv, perr, v)
			}
		case v < 0:
			if !errors.Is(perr, ErrNegative) || pv != 0 {
				t.Errorf("ParsePositive(%q, %d) = %d, %v; want ErrNegative", s, scale, pv, perr)
			}
		default:
			if perr == nil || !isSentinel(perr) || pv != 0 {
				t.Errorf("ParsePositive(%q, %d) = %d, %v; want a sentinel error for zero", s, scale, pv, perr)
			}
		}
	})
}

func FuzzFormatParse(f *testing.F) {
	for _, v := range []int64{0, 1, -1, 5, -5, 10, -10, 999, -999, 1 << 53,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
		1_000_000_000_000_000_000, -1_000_000_000_000_000_000} {
		for _, s := range []uint8{0, 1, 2, 3, 18} {
			f.Add(v, s)
		}
	}
	f.Fuzz(func(t *testing.T, v int64, rawScale uint8) {
		scale := int(rawScale % (MaxScale + 1))

		s := Format(v, scale)
		got, err := Parse(s, scale)
		if err != nil || got != v {
			t.Fatalf("Parse(Format(%d, %d) = %q) = %d, %v; want %d", v, scale, s, got, err, v)
		}
		if want := new(big.Int).SetInt64(v).String(); strings.Replace(s, ".", "", 1) != padDigits(want, scale) {
			t.Errorf("Format(%d, %d) = %q does not spell %s", v, scale, s, want)
		}
		if scale > 0 && strings.Count(s, ".") != 1 {
			t.Errorf("Format(%d, %d) = %q, want exactly one dot", v, scale, s)
		}
		if scale > 0 && len(s)-strings.IndexByte(s, '.')-1 != scale {
			t.Errorf("Format(%d, %d) = %q, want %d decimals", v, scale, s, scale)
		}

		tr := FormatTrim(v, scale)
		got, err = Parse(tr, scale)
		if err != nil || got != v {
			t.Fatalf("Parse(FormatTrim(%d, %d) = %q) = %d, %v; want %d", v, scale, tr, got, err, v)
		}
		if strings.HasSuffix(tr, ".") || (strings.Contains(tr, ".") && strings.HasSuffix(tr, "0")) {
			t.Errorf("FormatTrim(%d, %d) = %q has trailing zeros or dot", v, scale, tr)
		}
		if !strings.HasPrefix(s, tr) {
			t.Errorf("FormatTrim(%d, %d) = %q is not a prefix of Format = %q", v, scale, tr, s)
		}
	})
}

// padDigits left-pads the decimal integer n (optionally signed) with zeros
// so it has at least scale+1 digits, matching Format without its dot.
func padDigits(n string, scale int) string {
	sign := ""
	if strings.HasPrefix(n, "-") {
		sign, n = "-", n[1:]
	}
	if len(n) <= scale {
		n = strings.Repeat("0", scale-len(n)+1) + n
	}
	return sign + n
}
