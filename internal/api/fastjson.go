package api

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/fastjson"
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
	b = fastjson.AppendString(b, t.Key)
	b = append(b, `,"kind":`...)
	b = fastjson.AppendString(b, t.Kind)
	b = append(b, `,"debit_account_id":`...)
	b = strconv.AppendInt(b, t.DebitAccountID, 10)
	b = append(b, `,"credit_account_id":`...)
	b = strconv.AppendInt(b, t.CreditAccountID, 10)
	b = append(b, `,"asset":`...)
	b = fastjson.AppendString(b, t.Asset)
	b = append(b, `,"amount":"`...)
	b = appendAmount(b, t.Amount, scale)
	b = append(b, '"')
	if t.PendingID != 0 {
		b = append(b, `,"pending_id":`...)
		b = strconv.AppendInt(b, t.PendingID, 10)
	}
	b = append(b, `,"state":`...)
	b = fastjson.AppendString(b, t.State)
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
	b = fastjson.AppendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = fastjson.AppendString(b, e.Message)
	if e.Field != "" {
		b = append(b, `,"field":`...)
		b = fastjson.AppendString(b, e.Field)
	}
	return append(b, '}')
}

// decoder reads the subset of JSON the fast decoder accepts, with the
// readers of package fastjson. Its methods report false on anything else,
// and the caller then gives up.
type decoder struct {
	b []byte // the input
	i int    // the position in b
	// asset is the last asset code read, reused so that a batch in one
	// asset allocates it once.
	asset string
}

// The readers of package fastjson, over d's input and position.
func (d *decoder) peek() byte                              { return fastjson.Peek(d.b, &d.i) }
func (d *decoder) eat(c byte) bool                         { return fastjson.Eat(d.b, &d.i, c) }
func (d *decoder) end() bool                               { return fastjson.End(d.b, &d.i) }
func (d *decoder) str() ([]byte, bool)                     { return fastjson.Str(d.b, &d.i) }
func (d *decoder) int() (int64, bool)                      { return fastjson.Int(d.b, &d.i) }
func (d *decoder) number() ([]byte, bool)                  { return fastjson.Number(d.b, &d.i) }
func (d *decoder) bool() (v, ok bool)                      { return fastjson.Bool(d.b, &d.i) }
func (d *decoder) object(field func(key []byte) bool) bool { return fastjson.Object(d.b, &d.i, field) }

// value skips one JSON value other than null, checking that it is valid,
// and returns its bytes (aliasing the input).
func (d *decoder) value() ([]byte, bool) {
	if d.peek() == 'n' {
		return nil, false
	}
	return fastjson.Value(d.b, &d.i)
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
	var seen fastjson.Keys
	return d.object(func(key []byte) bool {
		var (
			bit fastjson.Keys
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
		return seen.Once(bit, ok)
	})
}

// batchInput decodes a batch into in, which must be zero.
func (d *decoder) batchInput(in *batchInput) bool {
	const (
		bTransfers = 1 << iota
		bAtomic
	)
	var seen fastjson.Keys
	return d.object(func(key []byte) bool {
		var bit fastjson.Keys
		ok := false
		switch string(key) {
		case "transfers":
			bit = bTransfers
			ok = d.transferList(&in.Transfers)
		case "atomic":
			bit = bAtomic
			in.Atomic, ok = d.bool()
		}
		return seen.Once(bit, ok)
	})
}

// transferList decodes an array of transfer objects.
func (d *decoder) transferList(out *[]transferInput) bool {
	if !d.eat('[') {
		return false
	}
	// About 100 bytes a transfer; a guess too small only costs growing.
	list := make([]transferInput, 0, min((len(d.b)-d.i)/96+1, maxBatchGuess))
	if !fastjson.Elements(d.b, &d.i, func() bool {
		list = append(list, transferInput{})
		return d.transferInput(&list[len(list)-1])
	}) {
		return false
	}
	*out = list
	return true
}

// maxBatchGuess bounds the room made for a batch's transfers up front.
const maxBatchGuess = 8192
