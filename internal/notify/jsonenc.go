package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Exact numbers and PHP-compatible JSON for the dialect formats.

// numberToken returns the JSON number token of an exact decimal written as
// text ("12.50", "-3", "0.5"), without going through float64: the digits
// are kept as written, leading zeros of the integer part dropped.
func numberToken(s string) (string, error) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(digits, ".")
	bad := intPart == "" && !hasDot || intPart != "" && !allDigits(intPart) || hasDot && !allDigits(frac)
	if bad {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if hasDot {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimalText reads an amount given as a JSON string or number token,
// keeping its exact text.
type decimalText string

func (d *decimalText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = decimalText(s)
		return nil
	}
	if string(b) == "null" {
		*d = ""
		return nil
	}
	*d = decimalText(b)
	return nil
}

// phpNumber returns the number token PHP's json_encode writes for the
// value json_decode reads from the decimal s, so that a PHP receiver that
// decodes and encodes again gets the same bytes: integers as integers,
// other numbers in PHP's shortest form (serialize_precision -1). Numbers
// PHP would write with an exponent, or that it would not read back
// exactly, are refused.
func phpNumber(s string) (string, error) {
	tok, err := numberToken(s)
	if err != nil {
		return "", err
	}
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(tok, "-"), ".")
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		// An integer: PHP reads it as int (within int64) and writes it back
		// as is.
		if _, err := strconv.ParseInt(intPart, 10, 64); err != nil {
			return "", fmt.Errorf("%s is out of range", s)
		}
		if strings.HasPrefix(tok, "-") && intPart != "0" {
			return "-" + intPart, nil
		}
		return intPart, nil
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) < 1e-4 || math.Abs(f) >= 1e15 {
		return "", fmt.Errorf("%s cannot be sent as a PHP number", s)
	}
	out := strconv.FormatFloat(f, 'f', -1, 64)
	want := intPart + "." + frac
	if strings.HasPrefix(tok, "-") {
		want = "-" + want
	}
	if out != want {
		return "", fmt.Errorf("%s has more digits than a PHP float keeps", s)
	}
	return out, nil
}

// phpString appends s as a JSON string the way PHP's json_encode does with
// JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE: '/' and non-ASCII
// characters as they are, '<', '>', '&' and "'" as they are; '"' and '\'
// escaped; \b \f \n \r \t by name; other control characters as \u00XX
// (lowercase hex); U+2028 and U+2029 escaped (PHP escapes them unless
// JSON_UNESCAPED_LINE_TERMINATORS is given). Invalid UTF-8 is refused, as
// PHP refuses it.
func phpString(buf *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return errors.New("string is not valid UTF-8")
	}
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[r>>4])
			buf.WriteByte(hex[r&0xf])
		case r == 0x2028:
			buf.WriteString(`\u2028`)
		case r == 0x2029:
			buf.WriteString(`\u2029`)
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
	return nil
}

// phpJSON re-encodes one JSON value from dec the way PHP's json_encode
// (JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) writes what json_decode
// read from it: object keys in their order, no spaces, strings as
// phpString, numbers as phpNumber. Object members named in asNumber whose
// value is a string are written as numbers (amounts kept as exact decimal
// strings by Coffer).
func phpJSON(buf *bytes.Buffer, dec *json.Decoder, asNumber map[string]bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			buf.WriteByte('{')
			for first := true; dec.More(); first = false {
				if !first {
					buf.WriteByte(',')
				}
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key := kt.(string)
				if err := phpString(buf, key); err != nil {
					return err
				}
				buf.WriteByte(':')
				if asNumber[key] {
					var raw json.RawMessage
					if err := dec.Decode(&raw); err != nil {
						return err
					}
					var d decimalText
					if err := d.UnmarshalJSON(raw); err != nil {
						return err
					}
					n, err := phpNumber(string(d))
					if err != nil {
						return fmt.Errorf("%s: %w", key, err)
					}
					buf.WriteString(n)
					continue
				}
				if err := phpJSON(buf, dec, asNumber); err != nil {
					return err
				}
			}
			buf.WriteByte('}')
		case '[':
			buf.WriteByte('[')
			for first := true; dec.More(); first = false {
				if !first {
					buf.WriteByte(',')
				}
				if err := phpJSON(buf, dec, asNumber); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		return phpString(buf, v)
	case json.Number:
		n, err := phpNumber(v.String())
		if err != nil {
			return err
		}
		buf.WriteString(n)
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case nil:
		buf.WriteString("null")
	}
	return nil
}

// phpEncode re-encodes a whole JSON document with phpJSON.
func phpEncode(doc []byte, asNumber map[string]bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := phpJSON(&buf, dec, asNumber); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return buf.Bytes(), nil
}
