package client

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/coffer-pay/coffer/internal/fastjson"
)

// This file holds hand-written encoders and decoders for the hot path
// (transfers and batches). They are shortcuts, never a second definition of
// the wire format: an encoder writes exactly the bytes json.Marshal would
// write, and a decoder either produces exactly what json.Unmarshal would
// produce or gives up on the first surprise (escapes, null, unknown or
// repeated keys, floats…), in which case the caller uses encoding/json.
// fastjson_test.go checks both claims against encoding/json.

// appendTransferRequest appends r as json.Marshal encodes it. It fails only
// when the metadata is not valid JSON; the caller then lets json.Marshal
// report that.
func appendTransferRequest(b []byte, r *TransferRequest) ([]byte, bool) {
	b = append(b, `{"key":`...)
	b = fastjson.AppendString(b, r.Key)
	b = append(b, `,"debit_account_id":`...)
	b = strconv.AppendInt(b, r.DebitAccountID, 10)
	b = append(b, `,"credit_account_id":`...)
	b = strconv.AppendInt(b, r.CreditAccountID, 10)
	b = append(b, `,"asset":`...)
	b = fastjson.AppendString(b, r.Asset)
	b = append(b, `,"amount":`...)
	b = fastjson.AppendString(b, r.Amount)
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

// scanner reads the subset of JSON the fast decoders accept, with the
// readers of package fastjson. Its methods report false on anything else,
// and the decoder then gives up.
type scanner struct {
	b []byte // the input
	i int    // the position in b
}

// The readers of package fastjson, over s's input and position.
func (s *scanner) eat(c byte) bool                         { return fastjson.Eat(s.b, &s.i, c) }
func (s *scanner) end() bool                               { return fastjson.End(s.b, &s.i) }
func (s *scanner) str() ([]byte, bool)                     { return fastjson.Str(s.b, &s.i) }
func (s *scanner) rawStr() ([]byte, bool)                  { return fastjson.RawStr(s.b, &s.i) }
func (s *scanner) int() (int64, bool)                      { return fastjson.Int(s.b, &s.i) }
func (s *scanner) bool() (v, ok bool)                      { return fastjson.Bool(s.b, &s.i) }
func (s *scanner) value() ([]byte, bool)                   { return fastjson.Value(s.b, &s.i) }
func (s *scanner) object(field func(key []byte) bool) bool { return fastjson.Object(s.b, &s.i, field) }
func (s *scanner) elements(elem func() bool) bool          { return fastjson.Elements(s.b, &s.i, elem) }

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
	var seen fastjson.Keys
	return s.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			t.ID, ok = s.int()
			return seen.Once(tfID, ok)
		case "key":
			t.Key, ok = s.string()
			return seen.Once(tfKey, ok)
		case "kind":
			t.Kind, ok = s.kind()
			return seen.Once(tfKind, ok)
		case "debit_account_id":
			t.DebitAccountID, ok = s.int()
			return seen.Once(tfDebit, ok)
		case "credit_account_id":
			t.CreditAccountID, ok = s.int()
			return seen.Once(tfCredit, ok)
		case "asset":
			t.Asset, ok = s.string()
			return seen.Once(tfAsset, ok)
		case "amount":
			t.Amount, ok = s.string()
			return seen.Once(tfAmount, ok)
		case "pending_id":
			t.PendingID, ok = s.int()
			return seen.Once(tfPendingID, ok)
		case "state":
			t.State, ok = s.kind()
			return seen.Once(tfState, ok)
		case "timeout_at":
			var at time.Time
			if at, ok = s.time(); ok {
				t.TimeoutAt = &at
			}
			return seen.Once(tfTimeoutAt, ok)
		case "metadata":
			b, ok := s.value()
			if !ok || string(b) == "null" {
				return false
			}
			t.Metadata = append(json.RawMessage(nil), b...)
			return seen.Once(tfMetadata, true)
		case "created_at":
			t.CreatedAt, ok = s.time()
			return seen.Once(tfCreatedAt, ok)
		}
		return false
	})
}

// string reads a plain string (see str) into a new string.
func (s *scanner) string() (string, bool) {
	b, ok := s.str()
	return string(b), ok
}

// kind reads a plain string that is likely a transfer kind or state, with
// internKind.
func (s *scanner) kind() (string, bool) {
	b, ok := s.str()
	return internKind(b), ok
}

// time reads a time as time.Time's UnmarshalJSON does, which requires a
// string.
func (s *scanner) time() (time.Time, bool) {
	var at time.Time
	b, ok := s.rawStr()
	if !ok || at.UnmarshalJSON(b) != nil {
		return time.Time{}, false
	}
	return at, true
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
	return results(s, out, hint, s.leanItem)
}

// results reads an answer of a batch, {"results":[…]}, into *out: item
// reads each element, and the slice is made with room for hint of them.
func results[T any](s *scanner, out *[]T, hint int, item func(*T) bool) bool {
	seen := false
	return s.object(func(key []byte) bool {
		if string(key) != "results" || seen || !s.eat('[') {
			return false
		}
		seen = true
		res := make([]T, 0, hint)
		if !s.elements(func() bool {
			var zero T
			res = append(res, zero) // decoded in place: no copy escapes
			return item(&res[len(res)-1])
		}) {
			return false
		}
		*out = res
		return true
	})
}

// errorObject reads the error of a batch result: an object, decoded by
// encoding/json.
func (s *scanner) errorObject() (*Error, bool) {
	raw, ok := s.value()
	if !ok || raw[0] != '{' {
		return nil, false
	}
	e := new(Error)
	return e, json.Unmarshal(raw, e) == nil
}

func (s *scanner) leanItem(it *BatchOutcome) bool {
	const (
		fID = 1 << iota
		fTransfer
		fError
		fReplayed
	)
	var seen fastjson.Keys
	var id, transferID int64
	ok := s.object(func(key []byte) bool {
		var bit fastjson.Keys
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
			it.Error, ok = s.errorObject()
		case "replayed":
			bit = fReplayed
			it.Replayed, ok = s.bool()
		}
		return seen.Once(bit, ok)
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
	return results(s, &out.Results, hint, s.batchResult)
}

func (s *scanner) batchResult(it *BatchResult) bool {
	const (
		fTransfer = 1 << iota
		fError
		fReplayed
	)
	var seen fastjson.Keys
	return s.object(func(key []byte) bool {
		var bit fastjson.Keys
		ok := false
		switch string(key) {
		case "transfer":
			bit = fTransfer
			it.Transfer = new(Transfer)
			ok = s.transfer(it.Transfer)
		case "error":
			bit = fError
			it.Error, ok = s.errorObject()
		case "replayed":
			bit = fReplayed
			it.Replayed, ok = s.bool()
		}
		return seen.Once(bit, ok)
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
