package fastjson

import (
	"encoding/json"
	"testing"
)

func TestAppendStringMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "k", "order-42", `a"b`, `back\slash`, "<script>&", "tab\there", "\x00\x1f\x7f", "héllo", "\u2028", "bad\xffutf8"} {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	}
}

func TestInt(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, " -7": -7, "123456789012345678": 123456789012345678, "-0": 0, "12,": 12} {
		i := 0
		if got, ok := Int([]byte(in), &i); !ok || got != want {
			t.Errorf("Int(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-", "01", "1.5", "1e3", "1234567890123456789", `"1"`} {
		i := 0
		if _, ok := Int([]byte(in), &i); ok || i != 0 {
			t.Errorf("Int(%q) accepted, or moved to %d", in, i)
		}
	}
}

func TestNumberAndValue(t *testing.T) {
	for _, in := range []string{"0", "-0", "1.5", "-2e10", "3E+2", "4.25e-3", "1234567890123456789012"} {
		i := 0
		if got, ok := Number([]byte(in+"}"), &i); !ok || string(got) != in {
			t.Errorf("Number(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"-", "1.", ".5", "1e", "+1", "x"} {
		i := 0
		if got, ok := Number([]byte(in), &i); ok && len(got) == len(in) {
			t.Errorf("Number(%q) accepted all of it", in)
		}
	}
	for _, in := range []string{`"plain"`, `"esc\"aped\u00e9"`, `{"a":[1,{"b":"}"}],"c":null}`, `[]`, `true`, `false`, `null`, `12.5`} {
		i := 0
		if got, ok := Value([]byte(" "+in+" ,"), &i); !ok || string(got) != in || i != len(in)+1 {
			t.Errorf("Value(%q) = %q, %v at %d", in, got, ok, i)
		}
	}
	for _, in := range []string{`"open`, `{"a":}`, `[1,]`, `nul`, `}`, ``, `"bad\x"`} {
		i := 0
		if got, ok := Value([]byte(in), &i); ok {
			t.Errorf("Value(%q) = %q, accepted", in, got)
		}
	}
}

func TestStr(t *testing.T) {
	b := []byte(` "abc" "a\"b" "é"`)
	i := 0
	if got, ok := Str(b, &i); !ok || string(got) != "abc" {
		t.Fatalf("Str = %q, %v", got, ok)
	}
	j := i
	if got, ok := RawStr(b, &j); ok {
		t.Errorf("RawStr accepted an escape: %q", got)
	}
	i = len(` "abc" "a\"b"`)
	if _, ok := Str(b, &i); ok {
		t.Errorf("Str accepted non-ASCII")
	}
	i = 0
	if got, ok := RawStr(b, &i); !ok || string(got) != `"abc"` {
		t.Errorf("RawStr = %q, %v", got, ok)
	}
}

func TestObjectElementsKeys(t *testing.T) {
	b := []byte(` { "a" : [1, 2,3] , "b":true, "a": [] } `)
	i := 0
	var seen Keys
	var sum int64
	ok := Object(b, &i, func(key []byte) bool {
		switch string(key) {
		case "a":
			ok := Eat(b, &i, '[') && Elements(b, &i, func() bool {
				v, ok := Int(b, &i)
				sum += v
				return ok
			})
			return seen.Once(1, ok)
		case "b":
			v, ok := Bool(b, &i)
			return seen.Once(2, ok && v)
		}
		return false
	})
	if ok || sum != 6 || seen != 3 {
		t.Errorf("Object accepted a repeated key, or read wrong: %v %d %d", ok, sum, seen)
	}
	for in, want := range map[string]bool{`{}`: true, ` {} `: true, `{`: false, `{"a":1,}`: false, `[]`: false} {
		i := 0
		got := Object([]byte(in), &i, func([]byte) bool { _, ok := Int([]byte(in), &i); return ok }) && End([]byte(in), &i)
		if got != want {
			t.Errorf("Object(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]int{`]`: 0, `1]`: 1, `1,2 ]`: 2, `1,]`: -1, `1 2]`: -1, `1`: -1} {
		i, n := 0, 0
		ok := Elements([]byte(in), &i, func() bool { n++; _, ok := Int([]byte(in), &i); return ok })
		if ok != (want >= 0) || ok && n != want {
			t.Errorf("Elements(%q) = %v after %d, want %d", in, ok, n, want)
		}
	}
}
