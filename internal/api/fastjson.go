package api

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// This file holds the hot path's JSON: a decoder of new transfers (alone
// or in a batch) and encoders of transfers and batch results. They are
// shortcuts, never a second definition of the wire format:
//
//   - the decoder accepts only plain input (no escapes, no null, no
//     repeated or unknown keys, …) and produces exactly what the
//     json.Decoder of decode would; on anything else it gives up and
//     decode runs over the same bytes, so errors are decode's own;
//   - the encoders write exactly the bytes json.Marshal writes for the
//     wire types of wire.go.
//
// fastjson_test.go holds them to both.

// buffer is a pooled byte buffer, for request bodies and answers.
type buffer struct{ b []byte }

var buffers = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 4096)} }}

// maxPooled bounds the buffers kept for reuse (a batch of 8000 transfers
// is about 2 MiB either way).
const maxPooled = 4 << 20

// getBuffer returns an empty buffer with room for at least size bytes.
func getBuffer(size int) *buffer {
	buf := buffers.Get().(*buffer)
	if size > cap(buf.b) && size <= maxPooled {
		buf.b = make([]byte, 0, size)
	}
	return buf
}

func putBuffer(buf *buffer) {
	if cap(buf.b) <= maxPooled {
		buf.b = buf.b[:0]
		buffers.Put(buf)
	}
}

// appendJSONString appends s as json.Marshal encodes it. Plain printable
// ASCII is copied; anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendAmount appends money.Format(v, scale) (scale 0 to 18).
func appendAmount(b []byte, v int64, scale int) []byte {
	u := uint64(v)
	if v < 0 {
		b = append(b, '-')
		u = -u
	}
	var d [24]byte
	digits := strconv.AppendUint(d[:0], u, 10)
	if scale == 0 {
		return append(b, digits...)
	}
	if len(digits) <= scale {
		b = append(b, '0', '.')
		for range scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-scale:]...)
}

// appendTime appends timeJSON(t) as a JSON string.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().Truncate(time.Microsecond).AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendTransfer appends json.Marshal(toTransfer(t, scale)). It fails
// where json.Marshal fails: on stored metadata that is not JSON.
func appendTransfer(b []byte, t *store.Transfer, scale int) ([]byte, bool) {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, t.ID, 10)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, t.Key)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, t.Kind)
	b = append(b, `,"debit_account_id":`...)
	b = strconv.AppendInt(b, t.DebitAccountID, 10)
	b = append(b, `,"credit_account_id":`...)
	b = strconv.AppendInt(b, t.CreditAccountID, 10)
	b = append(b, `,"asset":`...)
	b = appendJSONString(b, t.Asset)
	b = append(b, `,"amount":"`...)
	b = appendAmount(b, t.Amount, scale)
	b = append(b, '"')
	if t.PendingID != 0 {
		b = append(b, `,"pending_id":`...)
		b = strconv.AppendInt(b, t.PendingID, 10)
	}
	b = append(b, `,"state":`...)
	b = appendJSONString(b, t.State)
	if t.TimeoutAt != nil {
		b = append(b, `,"timeout_at":`...)
		b = appendTime(b, *t.TimeoutAt)
	}
	if m := metadataJSON(t.Metadata); len(m) > 0 {
		// json.Marshal compacts raw JSON (escaping <, > and &); let it.
		m, err := json.Marshal(m)
		if err != nil {
			return b, false
		}
		b = append(b, `,"metadata":`...)
		b = append(b, m...)
	}
	b = append(b, `,"created_at":`...)
	b = appendTime(b, t.CreatedAt)
	return append(b, '}'), true
}

// appendWireError appends json.Marshal(e).
func appendWireError(b []byte, e *wireError) []byte {
	b = append(b, `{"code":`...)
	b = appendJSONString(b, e.Code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message)
	if e.Field != "" {
		b = append(b, `,"field":`...)
		b = appendJSONString(b, e.Field)
	}
	return append(b, '}')
}

// decoder reads the subset of JSON the fast decoder accepts. Its methods
// report false on anything else, and the caller then gives up.
type decoder struct {
	b []byte
	i int
	// asset is the last asset code read, reused so that a batch in one
	// asset allocates it once.
	asset string
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (d *decoder) peek() byte {
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// eat consumes c if it is the next byte.
func (d *decoder) eat(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (d *decoder) end() bool { return d.peek() == 0 && d.i == len(d.b) }

// str reads a string of plain printable ASCII (no escapes) and returns its
// contents, which alias the input.
func (d *decoder) str() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// int reads an integer (JSON grammar, no fraction or exponent) of at most
// 18 digits.
func (d *decoder) int() (int64, bool) {
	d.peek()
	j := d.i
	neg := j < len(d.b) && d.b[j] == '-'
	if neg {
		j++
	}
	first := j
	var u uint64
	for ; j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9'; j++ {
		u = u*10 + uint64(d.b[j]-'0')
	}
	switch n := j - first; {
	case n == 0, n > 1 && d.b[first] == '0', n > 18: // 18 digits cannot overflow
		return 0, false
	}
	if j < len(d.b) {
		switch d.b[j] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	d.i = j
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// number reads a JSON number token and returns it as written.
func (d *decoder) number() ([]byte, bool) {
	d.peek()
	start, j := d.i, d.i
	digits := func() bool {
		k := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	switch {
	case j < len(d.b) && d.b[j] == '0':
		j++
	case !digits():
		return nil, false
	}
	if j < len(d.b) && d.b[j] == '.' {
		j++
		if !digits() {
			return nil, false
		}
	}
	if j < len(d.b) && (d.b[j] == 'e' || d.b[j] == 'E') {
		j++
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		if !digits() {
			return nil, false
		}
	}
	d.i = j
	return d.b[start:j], true
}

// lit consumes the literal word (true, false or null).
func (d *decoder) lit(word string) bool {
	d.peek()
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// bool reads true or false.
func (d *decoder) bool() (v, ok bool) {
	switch d.peek() {
	case 't':
		return true, d.lit("true")
	case 'f':
		return false, d.lit("false")
	}
	return false, false
}

// value skips one JSON value other than null, checking that it is valid,
// and returns its bytes (aliasing the input).
func (d *decoder) value() ([]byte, bool) {
	c := d.peek()
	start := d.i
	j := start
	switch {
	case c == '"':
		if _, ok := d.str(); ok {
			return d.b[start:d.i], true
		}
		for j++; j < len(d.b) && d.b[j] != '"'; j++ {
			if d.b[j] == '\\' {
				j++
			}
		}
		j++
	case c == '{' || c == '[':
		depth := 0
	scan:
		for ; j < len(d.b); j++ {
			switch d.b[j] {
			case '"':
				for j++; j < len(d.b) && d.b[j] != '"'; j++ {
					if d.b[j] == '\\' {
						j++
					}
				}
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					j++
					break scan
				}
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't' || c == 'f':
		if d.lit("true") || d.lit("false") {
			return d.b[start:d.i], true
		}
		return nil, false
	default:
		return nil, false
	}
	if j > len(d.b) || !json.Valid(d.b[start:j]) {
		return nil, false
	}
	d.i = j
	return d.b[start:j], true
}

// object calls field for each key of an object, with the decoder on the
// key's value; field reads the value and reports whether it could.
func (d *decoder) object(field func(key []byte) bool) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.eat(':') || !field(key) {
			return false
		}
		if d.eat('}') {
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

// Bits of the fields of a transferInput, to refuse repeated keys.
const (
	inKey = 1 << iota
	inDebit
	inCredit
	inAsset
	inAmount
	inPending
	inTimeout
	inLinked
	inMetadata
)

// transferInput decodes one transfer object into in, which must be zero.
// Strings are copied: in does not alias the input.
func (d *decoder) transferInput(in *transferInput) bool {
	seen := 0
	return d.object(func(key []byte) bool {
		var (
			bit int
			ok  bool
			b   []byte
		)
		switch string(key) {
		case "key":
			bit = inKey
			b, ok = d.str()
			in.Key = string(b)
		case "debit_account_id":
			bit = inDebit
			in.DebitAccountID, ok = d.int()
		case "credit_account_id":
			bit = inCredit
			in.CreditAccountID, ok = d.int()
		case "asset":
			bit = inAsset
			if b, ok = d.str(); string(b) != d.asset {
				d.asset = string(b)
			}
			in.Asset = d.asset
		case "amount":
			bit = inAmount
			if d.peek() == '"' {
				b, ok = d.str()
			} else {
				b, ok = d.number()
			}
			in.Amount = amountText(b)
		case "pending":
			bit = inPending
			in.Pending, ok = d.bool()
		case "timeout_seconds":
			bit = inTimeout
			in.TimeoutSeconds, ok = d.int()
		case "linked":
			bit = inLinked
			in.Linked, ok = d.bool()
		case "metadata":
			bit = inMetadata
			b, ok = d.value()
			in.Metadata = append(json.RawMessage(nil), b...)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// batchInput decodes a batch into in, which must be zero.
func (d *decoder) batchInput(in *batchInput) bool {
	const (
		bTransfers = 1 << iota
		bAtomic
	)
	seen := 0
	return d.object(func(key []byte) bool {
		var bit int
		ok := false
		switch string(key) {
		case "transfers":
			bit = bTransfers
			ok = d.transferList(&in.Transfers)
		case "atomic":
			bit = bAtomic
			in.Atomic, ok = d.bool()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// transferList decodes an array of transfer objects.
func (d *decoder) transferList(out *[]transferInput) bool {
	if !d.eat('[') {
		return false
	}
	// About 100 bytes a transfer; a guess too small only costs growing.
	list := make([]transferInput, 0, min((len(d.b)-d.i)/96+1, maxBatchGuess))
	if d.eat(']') {
		*out = list
		return true
	}
	for {
		list = append(list, transferInput{})
		if !d.transferInput(&list[len(list)-1]) {
			return false
		}
		if d.eat(']') {
			*out = list
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

// maxBatchGuess bounds the room made for a batch's transfers up front.
const maxBatchGuess = 8192
