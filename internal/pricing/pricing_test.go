package pricing

import (
	"errors"
	"testing"

	"github.com/coffer-pay/coffer/internal/money"
)

func mustRate(t testing.TB, s string) Rate {
	t.Helper()
	r, err := ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name     string
		amount   int64
		from, to string
		rate     string
		want     int64
	}{
		{"EUR to JPY", 10000, "EUR", "JPY", "162.35", 16235},           // 100.00 EUR → 16235 JPY
		{"JPY to EUR rounds half up", 125, "JPY", "EUR", "0.0062", 78}, // 0.775 → 0.78
		{"EUR to BHD", 1999, "EUR", "BHD", "0.4123", 8242},             // 19.99 × 0.4123 = 8.241877 → 8.242
		{"BHD to JPY", 1, "BHD", "JPY", "393.7", 0},                    // 0.001 BHD = 0.3937 JPY → 0
		{"BHD to JPY half", 1270, "BHD", "JPY", "393.7", 500},          // 1.270 × 393.7 = 499.999 → 500
		{"identity", 12345, "USD", "USD", "1", 12345},
		{"exact half away from zero", 5, "EUR", "JPY", "1", 0}, // 0.05 EUR → 0.05 JPY → 0
		{"half rounds up", 50, "EUR", "JPY", "1", 1},           // 0.50 → 1
		{"negative half rounds away", -50, "EUR", "JPY", "1", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, _ := money.CurrencyScale(tc.from)
			ts, _ := money.CurrencyScale(tc.to)
			got, err := Convert(tc.amount, fs, mustRate(t, tc.rate), ts)
			if err != nil || got != tc.want {
				t.Errorf("Convert(%d %s→%s at %s) = %d, %v; want %d", tc.amount, tc.from, tc.to, tc.rate, got, err, tc.want)
			}
		})
	}
	if _, err := Convert(1<<62, 0, mustRate(t, "1000"), 3); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflow: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	for _, s := range []string{"", "0", "0.0", "-1", "1e3", "NaN", "1.", ".5", "1.0000000000001", " 1", "1,5"} {
		if _, err := ParseRate(s); !errors.Is(err, ErrRate) {
			t.Errorf("ParseRate(%q) = %v, want ErrRate", s, err)
		}
	}
	for s, want := range map[string]string{"1.50": "1.5", "0.000061": "0.000061", "162": "162", "1.000000000001": "1.000000000001"} {
		r, err := ParseRate(s)
		if err != nil || r.String() != want {
			t.Errorf("ParseRate(%q) = %v %v, want %s", s, r, err, want)
		}
	}
}

func TestCrossRate(t *testing.T) {
	// 1 EUR = 1.08 USD, 1 JPY = 0.0066 USD → 1 EUR = 163.6363… JPY.
	r := CrossRate(mustRate(t, "1.08"), mustRate(t, "0.0066"))
	got, err := Convert(10000, 2, r, 0)
	if err != nil || got != 16364 {
		t.Errorf("100 EUR → %d JPY, %v; want 16364", got, err)
	}
}

func TestTax(t *testing.T) {
	tests := []struct {
		name     string
		amount   int64
		pct      string
		included bool
		want     Split
	}{
		{"added 20%", 10000, "20", false, Split{10000, 2000, 12000}},
		{"included 20%", 12000, "20", true, Split{10000, 2000, 12000}},
		{"seed example: 100 with tax included at 21%", 10000, "21", true, Split{8264, 1736, 10000}}, // 100/1.21 = 82.6446…
		{"added rounds half up", 5, "10", false, Split{5, 1, 6}},                                    // 0.5 → 1
		{"included rounds", 100, "7.5", true, Split{93, 7, 100}},                                    // 93.0232…
		{"zero rate", 999, "", false, Split{999, 0, 999}},
		{"included zero rate", 999, "0", true, Split{999, 0, 999}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTaxRate(tc.pct)
			if err != nil {
				t.Fatal(err)
			}
			var got Split
			if tc.included {
				got, err = IncludedTax(tc.amount, tr)
			} else {
				got, err = AddTax(tc.amount, tr)
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v %v, want %+v", got, err, tc.want)
			}
			if got.Net+got.Tax != got.Gross {
				t.Errorf("net + tax != gross: %+v", got)
			}
		})
	}
	for _, s := range []string{"-1", "1001", "abc", "1.0000001"} {
		if _, err := ParseTaxRate(s); !errors.Is(err, ErrTaxRate) {
			t.Errorf("ParseTaxRate(%q) = %v", s, err)
		}
	}
}

func FuzzConvert(f *testing.F) {
	f.Add(int64(10000), uint8(2), "162.35", uint8(0))
	f.Add(int64(-1), uint8(3), "0.000001", uint8(2))
	f.Fuzz(func(t *testing.T, amount int64, fromScale uint8, rate string, toScale uint8) {
		fs, ts := int(fromScale%19), int(toScale%19)
		r, err := ParseRate(rate)
		if err != nil {
			return
		}
		got, err := Convert(amount, fs, r, ts)
		if err != nil {
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Converting at rate 1 between equal scales is the identity.
		if rate == "1" && fs == ts && got != amount {
			t.Fatalf("identity: %d → %d", amount, got)
		}
		if (amount > 0 && got < 0) || (amount < 0 && got > 0) {
			t.Fatalf("sign flipped: %d → %d", amount, got)
		}
	})
}

func FuzzTax(f *testing.F) {
	f.Add(int64(10000), "20", true)
	f.Fuzz(func(t *testing.T, amount int64, pct string, included bool) {
		tr, err := ParseTaxRate(pct)
		if err != nil || amount < 0 || amount > 1<<50 {
			return
		}
		var s Split
		if included {
			s, err = IncludedTax(amount, tr)
		} else {
			s, err = AddTax(amount, tr)
		}
		if err != nil {
			return
		}
		if s.Net+s.Tax != s.Gross || s.Tax < 0 || s.Net < 0 {
			t.Fatalf("bad split %+v for %d at %s%% (included %v)", s, amount, pct, included)
		}
	})
}
