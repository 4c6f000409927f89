package client

import (
	"encoding/json"
	"strconv"
	"time"
)

// This file holds hand-written encoders and decoders for the hot path
// (transfers and batches). They are shortcuts, never a second definition of
// the wire format: an encoder writes exactly the bytes json.Marshal would
// write, and a decoder either produces exactly what json.Unmarshal would
// produce or gives up on the first surprise (escapes, null, unknown or
// repeated keys, floats…), in which case the caller uses encoding/json.
// fastjson_test.go checks both claims against encoding/json.

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

// appendTransferRequest appends r as json.Marshal encodes it. It fails only
// when the metadata is not valid JSON; the caller then lets json.Marshal
// report that.
func appendTransferRequest(b []byte, r *TransferRequest) ([]byte, bool) {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, r.Key)
	b = append(b, `,"debit_account_id":`...)
	b = strconv.AppendInt(b, r.DebitAccountID, 10)
	b = append(b, `,"credit_account_id":`...)
	b = strconv.AppendInt(b, r.CreditAccountID, 10)
	b = append(b, `,"asset":`...)
	b = appendJSONString(b, r.Asset)
	b = append(b, `,"amount":`...)
	b = appendJSONString(b, r.Amount)
	if r.Pending {
		b = append(b, `,"pending":true`...)
	}
	if r.TimeoutSeconds != 0 {
		b = append(b, `,"timeout_seconds":`...)
		b = strconv.AppendInt(b, r.TimeoutSeconds, 10)
	}
	if r.Linked {
		b = append(b, `,"linked":true`...)
	}
	if len(r.Metadata) > 0 {
		// json.Marshal compacts raw JSON (escaping <, > and &); let it.
		m, err := json.Marshal(r.Metadata)
		if err != nil {
			return b, false
		}
		b = append(b, `,"metadata":`...)
		b = append(b, m...)
	}
	return append(b, '}'), true
}

// transferRequestSize is r's encoded size, unless strings need escaping.
func transferRequestSize(r *TransferRequest) int {
	n := 115 + len(r.Key) + len(r.Asset) + len(r.Amount) // with two 20-digit ids
	if r.Pending {
		n += len(`,"pending":true`)
	}
	if r.TimeoutSeconds != 0 {
		n += len(`,"timeout_seconds":`) + 20
	}
	if r.Linked {
		n += len(`,"linked":true`)
	}
	if len(r.Metadata) > 0 {
		n += len(`,"metadata":`) + len(r.Metadata)
	}
	return n
}

// encodeTransferRequest encodes r into a new slice of the right size.
func encodeTransferRequest(r *TransferRequest) ([]byte, bool) {
	return appendTransferRequest(make([]byte, 0, transferRequestSize(r)), r)
}

// encodeBatchRequest encodes r into a new slice of the right size.
func encodeBatchRequest(r *BatchRequest) ([]byte, bool) {
	if r.Transfers == nil {
		return nil, false // "transfers":null; rare enough for encoding/json
	}
	n := 32
	for i := range r.Transfers {
		n += transferRequestSize(&r.Transfers[i]) + 1
	}
	b := append(make([]byte, 0, n), `{"transfers":[`...)
	for i := range r.Transfers {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendTransferRequest(b, &r.Transfers[i]); !ok {
			return nil, false
		}
	}
	b = append(b, ']')
	if r.Atomic {
		b = append(b, `,"atomic":true`...)
	}
	return append(b, '}'), true
}

// scanner reads the subset of JSON the fast decoders accept. Its methods
// report false on anything else, and the decoder then gives up.
type scanner struct {
	b []byte
	i int
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// eat consumes c if it is the next byte.
func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool { return s.peek() == 0 && s.i == len(s.b) }

// str reads a string of plain printable ASCII (no escapes) and returns its
// contents, which alias the input.
func (s *scanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// rawStr is str that returns the token with its quotes.
func (s *scanner) rawStr() ([]byte, bool) {
	s.peek()
	start := s.i
	if _, ok := s.str(); !ok {
		return nil, false
	}
	return s.b[start:s.i], true
}

// int reads an integer (JSON grammar, no fraction or exponent) that fits
// an int64.
func (s *scanner) int() (int64, bool) {
	s.peek()
	j := s.i
	neg := j < len(s.b) && s.b[j] == '-'
	if neg {
		j++
	}
	d := j
	var u uint64
	for ; j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9'; j++ {
		u = u*10 + uint64(s.b[j]-'0')
	}
	switch n := j - d; {
	case n == 0, n > 1 && s.b[d] == '0', n > 18: // 18 digits cannot overflow
		return 0, false
	}
	if j < len(s.b) {
		switch s.b[j] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	s.i = j
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// lit consumes the literal word (true, false or null).
func (s *scanner) lit(word string) bool {
	s.peek()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// bool reads true or false.
func (s *scanner) bool() (v, ok bool) {
	switch s.peek() {
	case 't':
		return true, s.lit("true")
	case 'f':
		return false, s.lit("false")
	}
	return false, false
}

// value skips one JSON value, checking that it is valid, and returns its
// bytes (aliasing the input).
func (s *scanner) value() ([]byte, bool) {
	c := s.peek()
	start := s.i
	j := start
	switch {
	case c == '"':
		if _, ok := s.str(); ok { // plain strings need no more checking
			return s.b[start:s.i], true
		}
		for j++; j < len(s.b) && s.b[j] != '"'; j++ {
			if s.b[j] == '\\' {
				j++
			}
		}
		j++
	case c == '{' || c == '[':
		depth := 0
	scan:
		for ; j < len(s.b); j++ {
			switch s.b[j] {
			case '"':
				for j++; j < len(s.b) && s.b[j] != '"'; j++ {
					if s.b[j] == '\\' {
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
		if _, ok := s.int(); ok { // so are integers
			return s.b[start:s.i], true
		}
		for ; j < len(s.b); j++ {
			if c := s.b[j]; !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
				break
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		if s.lit("true") || s.lit("false") || s.lit("null") {
			return s.b[start:s.i], true
		}
		return nil, false
	default:
		return nil, false
	}
	if j > len(s.b) || !json.Valid(s.b[start:j]) {
		return nil, false
	}
	s.i = j
	return s.b[start:j], true
}

// object calls field for each key of an object, with the scanner on the
// key's value; field reads the value and reports whether it could.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok || !s.eat(':') || !field(key) {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// Interned values, so that decoding them allocates nothing.
func internKind(b []byte) string {
	switch string(b) {
	case "single":
		return "single"
	case "pending":
		return "pending"
	case "post":
		return "post"
	case "void":
		return "void"
	case "expire":
		return "expire"
	case "posted":
		return "posted"
	case "voided":
		return "voided"
	case "expired":
		return "expired"
	}
	return string(b)
}

// Bits of the fields of a Transfer, to refuse repeated keys.
const (
	tfID = 1 << iota
	tfKey
	tfKind
	tfDebit
	tfCredit
	tfAsset
	tfAmount
	tfPendingID
	tfState
	tfTimeoutAt
	tfMetadata
	tfCreatedAt
)

// transfer decodes one Transfer object into t, which must be zero.
func (s *scanner) transfer(t *Transfer) bool {
	seen := 0
	once := func(bit int) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	return s.object(func(key []byte) bool {
		var ok bool
		var b []byte
		switch string(key) {
		case "id":
			t.ID, ok = s.int()
			return ok && once(tfID)
		case "key":
			b, ok = s.str()
			t.Key = string(b)
			return ok && once(tfKey)
		case "kind":
			b, ok = s.str()
			t.Kind = internKind(b)
			return ok && once(tfKind)
		case "debit_account_id":
			t.DebitAccountID, ok = s.int()
			return ok && once(tfDebit)
		case "credit_account_id":
			t.CreditAccountID, ok = s.int()
			return ok && once(tfCredit)
		case "asset":
			b, ok = s.str()
			t.Asset = string(b)
			return ok && once(tfAsset)
		case "amount":
			b, ok = s.str()
			t.Amount = string(b)
			return ok && once(tfAmount)
		case "pending_id":
			t.PendingID, ok = s.int()
			return ok && once(tfPendingID)
		case "state":
			b, ok = s.str()
			t.State = internKind(b)
			return ok && once(tfState)
		case "timeout_at":
			if b, ok = s.rawStr(); !ok {
				return false
			}
			var at time.Time
			if at.UnmarshalJSON(b) != nil {
				return false
			}
			t.TimeoutAt = &at
			return once(tfTimeoutAt)
		case "metadata":
			if b, ok = s.value(); !ok || string(b) == "null" {
				return false
			}
			t.Metadata = append(json.RawMessage(nil), b...)
			return once(tfMetadata)
		case "created_at":
			if b, ok = s.rawStr(); !ok || t.CreatedAt.UnmarshalJSON(b) != nil {
				return false
			}
			return once(tfCreatedAt)
		}
		return false
	})
}

// decodeTransfer is json.Unmarshal(data, t) for a zero t.
func decodeTransfer(data []byte, t *Transfer) error {
	s := scanner{b: data}
	if s.transfer(t) && s.end() {
		return nil
	}
	*t = Transfer{}
	return json.Unmarshal(data, t)
}

// leanItem is what the lean decoding of a batch result keeps: it accepts
// both the minimal shape ({"id":…}) and the full one ({"transfer":{…}}).
type leanItem struct {
	ID       int64 `json:"id"`
	Transfer *struct {
		ID int64 `json:"id"`
	} `json:"transfer"`
	Error    *Error `json:"error"`
	Replayed bool   `json:"replayed"`
}

// leanResults is the fast path of decodeLeanResults: it reports false when
// encoding/json must decide. hint is the number of results expected.
func (s *scanner) leanResults(out *[]BatchOutcome, hint int) bool {
	seenResults := false
	return s.object(func(key []byte) bool {
		if string(key) != "results" || seenResults || !s.eat('[') {
			return false
		}
		seenResults = true
		res := make([]BatchOutcome, 0, hint)
		if s.eat(']') {
			*out = res
			return true
		}
		for {
			var it BatchOutcome
			if !s.leanItem(&it) {
				return false
			}
			res = append(res, it)
			if s.eat(']') {
				*out = res
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	})
}

func (s *scanner) leanItem(it *BatchOutcome) bool {
	const (
		fID = 1 << iota
		fTransfer
		fError
		fReplayed
	)
	seen := 0
	var id, transferID int64
	ok := s.object(func(key []byte) bool {
		bit := 0
		ok := false
		switch string(key) {
		case "id":
			bit = fID
			id, ok = s.int()
		case "transfer":
			bit = fTransfer
			ok = s.transferID(&transferID)
		case "error":
			bit = fError
			var raw []byte
			if raw, ok = s.value(); ok && raw[0] == '{' {
				e := new(Error)
				ok = json.Unmarshal(raw, e) == nil
				it.Error = e
			} else {
				ok = false
			}
		case "replayed":
			bit = fReplayed
			it.Replayed, ok = s.bool()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	if seen&fTransfer != 0 {
		id = transferID
	}
	it.ID = id
	return ok
}

// transferID reads a transfer object for its id alone, skipping the rest.
func (s *scanner) transferID(id *int64) bool {
	seen := false
	return s.object(func(key []byte) bool {
		if string(key) == "id" {
			var ok bool
			*id, ok = s.int()
			ok = ok && !seen
			seen = true
			return ok
		}
		if len(key) == 2 && (key[0]|0x20) == 'i' && (key[1]|0x20) == 'd' {
			return false // "ID" and the like would match too: let encoding/json say
		}
		_, ok := s.value() // any other field is skipped, whatever its value
		return ok
	})
}

// leanResults decodes the answer of a batch keeping only each result's
// transfer id, error and replayed flag: as if json.Unmarshal decoded it
// into struct{ Results []leanItem }. hint is the number of results
// expected.
type leanResults struct {
	hint int
	out  []BatchOutcome
}

func decodeLeanResults(data []byte, lr *leanResults) error {
	s := scanner{b: data}
	out := &lr.out
	if s.leanResults(out, lr.hint) && s.end() {
		return nil
	}
	*out = nil
	var slow struct {
		Results []leanItem `json:"results"`
	}
	if err := json.Unmarshal(data, &slow); err != nil {
		return err
	}
	if slow.Results != nil {
		*out = make([]BatchOutcome, len(slow.Results))
	}
	for i, it := range slow.Results {
		o := &(*out)[i]
		o.ID, o.Error, o.Replayed = it.ID, it.Error, it.Replayed
		if it.Transfer != nil {
			o.ID = it.Transfer.ID
		}
	}
	return nil
}

// batchResults is the answer of a batch, decoded in full.
type batchResults struct {
	Results []BatchResult `json:"results"`
}

// fullResults is what CreateTransfers decodes: the answer in full, with
// the number of results expected.
type fullResults struct {
	batchResults
	hint int
}

// batchResults is the fast path of decodeBatchResults.
func (s *scanner) batchResults(out *batchResults, hint int) bool {
	seenResults := false
	return s.object(func(key []byte) bool {
		if string(key) != "results" || seenResults || !s.eat('[') {
			return false
		}
		seenResults = true
		res := make([]BatchResult, 0, hint)
		if s.eat(']') {
			out.Results = res
			return true
		}
		for {
			var it BatchResult
			if !s.batchResult(&it) {
				return false
			}
			res = append(res, it)
			if s.eat(']') {
				out.Results = res
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	})
}

func (s *scanner) batchResult(it *BatchResult) bool {
	const (
		fTransfer = 1 << iota
		fError
		fReplayed
	)
	seen := 0
	return s.object(func(key []byte) bool {
		bit := 0
		ok := false
		switch string(key) {
		case "transfer":
			bit = fTransfer
			it.Transfer = new(Transfer)
			ok = s.transfer(it.Transfer)
		case "error":
			bit = fError
			var raw []byte
			if raw, ok = s.value(); ok && raw[0] == '{' {
				it.Error = new(Error)
				ok = json.Unmarshal(raw, it.Error) == nil
			} else {
				ok = false
			}
		case "replayed":
			bit = fReplayed
			it.Replayed, ok = s.bool()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// decodeBatchResults is json.Unmarshal(data, out) for a zero out. hint is
// the number of results expected.
func decodeBatchResults(data []byte, out *batchResults, hint int) error {
	s := scanner{b: data}
	if s.batchResults(out, hint) && s.end() {
		return nil
	}
	*out = batchResults{}
	return json.Unmarshal(data, out)
}
