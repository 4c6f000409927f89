package api

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// The fast decoder and encoders (fastjson.go) must agree with
// encoding/json: decodeFast with decode, value for value and error for
// error; the encoders with json.Marshal of the wire types, byte for byte.

var inputSeeds = []string{
	`{"key":"k1","debit_account_id":1,"credit_account_id":2,"asset":"USD","amount":"1.50"}`,
	`{"key":"k2","debit_account_id":1,"credit_account_id":2,"asset":"USD","amount":2.25,"pending":true,"timeout_seconds":60,"linked":false,"metadata":{"a":[1,"x",{"b":null}]}}`,
	` { "key" : "k3" , "amount" : -0.5e+3 , "linked" : true , "metadata" : "s" } `,
	`{}`, `[]`, `null`, ``, ` `, `{`, `}`, `{"key":}`, `{"key":"a",}`, `{"key":"a"}x`, `{"key":"a"} {}`, `{"key":"a"}]`,
	`{"KEY":"a"}`, `{"Key":"a"}`, `{"key":"a","key":"b"}`, `{"key":"a\"b"}`, `{"key":"\u00e9"}`, `{"key":"é"}`, `{"key":"a` + "\t" + `b"}`,
	`{"key":null}`, `{"key":5}`, `{"memo":1}`, `{"debit_account_id":07}`, `{"debit_account_id":-0}`, `{"debit_account_id":1.0}`,
	`{"debit_account_id":1e2}`, `{"debit_account_id":"1"}`, `{"debit_account_id":9223372036854775807}`, `{"debit_account_id":9223372036854775808}`,
	`{"debit_account_id":123456789012345678}`, `{"debit_account_id":-}`, `{"debit_account_id":null}`, `{"debit_account_id":true}`,
	`{"amount":"1"}`, `{"amount":1}`, `{"amount":-1}`, `{"amount":0}`, `{"amount":01}`, `{"amount":1.}`, `{"amount":.5}`, `{"amount":1e}`,
	`{"amount":1E+2}`, `{"amount":1e-2}`, `{"amount":-}`, `{"amount":null}`, `{"amount":{}}`, `{"amount":[]}`, `{"amount":true}`,
	`{"amount":"\u0031"}`, `{"amount":1,"amount":2}`, `{"pending":true}`, `{"pending":false}`, `{"pending":1}`, `{"pending":null}`, `{"pending":tru}`,
	`{"pending":truex}`, `{"metadata":null}`, `{"metadata":{}}`, `{"metadata":[]}`, `{"metadata":{"a":"}"}}`, `{"metadata":{"a":"\"}"}}`,
	`{"metadata":{"a":1]}`, `{"metadata":{"a":1}`, `{"metadata":12}`, `{"metadata":-1.5e3}`, `{"metadata":false}`, `{"metadata":"\x"}`,
	`{"metadata":{"a":1},"metadata":{"b":2}}`, `{"metadata":{ "a" : 1 }}`, `{"timeout_seconds":-1}`, `{"linked":true}`,
	"{\"key\":\"k\"\n,\r\"asset\"\t:\"USD\"}", `{"key" "a"}`, `{"key":"a" "asset":"b"}`, `{"key":"a`, `{"key":"a\`,
}

var batchSeeds = []string{
	`{"transfers":[` + inputSeeds[0] + `,` + inputSeeds[1] + `],"atomic":true}`,
	`{"atomic":false,"transfers":[` + inputSeeds[2] + `]}`,
	`{"transfers":[]}`, `{"transfers":null}`, `{"transfers":{}}`, `{}`, `{"transfers":[{}]}`, `{"transfers":[null]}`, `{"transfers":[1]}`,
	`{"transfers":[{}],"transfers":[{}]}`, `{"transfers":[{"key":"a","asset":"X"}],"transfers":[{"key":"b"}]}`, `{"Transfers":[]}`,
	`{"transfers":[{}],}`, `{"transfers":[{},]}`, `{"transfers":[{}]`, `{"transfers":[{"memo":1}]}`, `{"transfers":[{"key":5}]}`,
	`{"atomic":1,"transfers":[]}`, `{"atomic":true,"atomic":false,"transfers":[{}]}`,
}

// decodeBoth decodes body the fast way and the reference way, with limit.
func decodeBoth[T any](t *testing.T, body string, limit int64, fast func(d *decoder, v *T) bool) {
	t.Helper()
	do := func(f func(w http.ResponseWriter, r *http.Request, v *T) error) (T, string) {
		var v T
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		err := f(httptest.NewRecorder(), r, &v)
		if err == nil {
			return v, "<nil>"
		}
		e := classify(err)
		return v, fmt.Sprint(e.Status, e.Code, e.Field, e.Message)
	}
	want, wantErr := do(func(w http.ResponseWriter, r *http.Request, v *T) error { return decode(w, r, limit, v) })
	got, gotErr := do(func(w http.ResponseWriter, r *http.Request, v *T) error {
		return decodeFast(w, r, limit, v, func(d *decoder) bool { return fast(d, v) }, func() { *v = *new(T) })
	})
	if gotErr != wantErr || wantErr == "<nil>" && !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %q:\n got %+v, %s\nwant %+v, %s", body, got, gotErr, want, wantErr)
	}
}

func mutate(rnd *rand.Rand, s string) string {
	alphabet := []byte(`{}[]":,.-+eE0123456789 tfnulrsaxyzkey\` + "\t\n\xff")
	b := []byte(s)
	for range 1 + rnd.IntN(3) {
		if len(b) == 0 {
			break
		}
		i := rnd.IntN(len(b))
		switch rnd.IntN(3) {
		case 0:
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		case 1:
			b = append(b[:i], b[i+1:]...)
		default:
			b = append(b[:i], append([]byte{alphabet[rnd.IntN(len(alphabet))]}, b[i:]...)...)
		}
	}
	return string(b)
}

func fastInput(d *decoder, v *transferInput) bool { return d.transferInput(v) }
func fastBatch(d *decoder, v *batchInput) bool    { return d.batchInput(v) }

func TestDecodeFastMatchesDecode(t *testing.T) {
	for _, s := range inputSeeds {
		decodeBoth(t, s, maxBody, fastInput)
	}
	for _, s := range batchSeeds {
		decodeBoth(t, s, maxBatchBody, fastBatch)
	}
	rnd := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		decodeBoth(t, mutate(rnd, inputSeeds[rnd.IntN(3)]), maxBody, fastInput)
		decodeBoth(t, mutate(rnd, batchSeeds[rnd.IntN(2)]), maxBatchBody, fastBatch)
	}
	// Over the limit: the same answer whether the excess is found before
	// or after a syntax error.
	for _, s := range []string{inputSeeds[0] + strings.Repeat(" ", 200), inputSeeds[0] + " x" + strings.Repeat(" ", 200),
		`{"key":x` + strings.Repeat(" ", 200) + `}`, `{"key":"` + strings.Repeat("k", 200) + `"}`} {
		decodeBoth(t, s, 100, fastInput)
		decodeBoth(t, s, int64(len(s)), fastInput)
	}
}

func FuzzDecodeInput(f *testing.F) {
	for _, s := range inputSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { decodeBoth(t, s, maxBody, fastInput) })
}

func FuzzDecodeBatch(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { decodeBoth(t, s, maxBatchBody, fastBatch) })
}

// The fast path must take what clients send, or it is useless.
func TestDecodeFastAccepts(t *testing.T) {
	for _, s := range append(inputSeeds[:3:3], `{"key":"bench-abc-t1","debit_account_id":12,"credit_account_id":34,"asset":"USD","amount":"0.42"}`) {
		var in transferInput
		d := decoder{b: []byte(s)}
		if !d.transferInput(&in) || !d.end() {
			t.Errorf("fast path refuses %s", s)
		}
	}
	for _, s := range batchSeeds[:3] {
		var in batchInput
		d := decoder{b: []byte(s)}
		if !d.batchInput(&in) || !d.end() {
			t.Errorf("fast path refuses %s", s)
		}
	}
}

var oddStrings = []string{
	"", "k", "order-42", "USD", `a"b`, `back\slash`, "<script>&", "tab\there", "\x00\x1f\x7f", "héllo", "\u2028", "bad\xffutf8",
}

func randomTransfer(rnd *rand.Rand) store.Transfer {
	pick := func(ss []string) string { return ss[rnd.IntN(len(ss))] }
	amounts := []int64{0, 1, 9, 10, 99, 100, 12345, -1, -100, math.MaxInt64, math.MinInt64, 1e17, -1e18}
	t := store.Transfer{
		ID: rnd.Int64N(1e12), MerchantID: 1, Key: pick(oddStrings), Kind: pick([]string{"single", "pending", "post", "void", "expire"}),
		DebitAccountID: rnd.Int64N(1e6), CreditAccountID: rnd.Int64N(1e6), Asset: pick(oddStrings),
		Amount: amounts[rnd.IntN(len(amounts))], State: pick([]string{"pending", "posted", "voided", "expired"}),
		CreatedAt: time.Unix(rnd.Int64N(4e9), rnd.Int64N(1e9)).In(time.FixedZone("x", 3600*rnd.IntN(5))),
	}
	if rnd.IntN(2) == 0 {
		t.Amount = rnd.Int64()
	}
	if rnd.IntN(3) == 0 {
		t.PendingID = rnd.Int64N(1000)
	}
	if rnd.IntN(3) == 0 {
		at := time.Unix(rnd.Int64N(4e9), rnd.Int64N(1e9))
		t.TimeoutAt = &at
	}
	switch rnd.IntN(6) {
	case 0:
		t.Metadata = []byte(`{"z": 1, "a": ["<&>", 2.50, null], "m": {"y": true}}`)
	case 1:
		t.Metadata = []byte(`{"order":"42"}`)
	case 2:
		t.Metadata = []byte(`{not json`)
	}
	return t
}

func TestEncodersMatchMarshal(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	for range 5000 {
		v := rnd.Int64()
		if rnd.IntN(2) == 0 {
			v = rnd.Int64N(2000) - 1000
		}
		scale := rnd.IntN(money.MaxScale + 1)
		if got, want := string(appendAmount(nil, v, scale)), money.Format(v, scale); got != want {
			t.Fatalf("appendAmount(%d, %d) = %s, want %s", v, scale, got, want)
		}
	}
	for range 5000 {
		tr := randomTransfer(rnd)
		scale := rnd.IntN(money.MaxScale + 1)
		want, err := json.Marshal(toTransfer(tr, scale))
		got, ok := appendTransfer(nil, &tr, scale)
		if ok != (err == nil) || ok && string(got) != string(want) {
			t.Fatalf("appendTransfer:\n got %s, %v\nwant %s, %v", got, ok, want, err)
		}
	}
	// Batch results, as the old code built them.
	for range 2000 {
		var res []ledger.Result
		var items []batchItem
		var ref []batchItemJSON
		for range rnd.IntN(5) {
			var it batchItem
			var rj batchItemJSON
			switch rnd.IntN(3) {
			case 0:
				it.err = &wireError{Code: "insufficient_funds", Message: `the "debit" <account>`, Field: []string{"", "amount"}[rnd.IntN(2)]}
				rj.Error = it.err
			default:
				tr := randomTransfer(rnd)
				tr.Metadata = nil
				res = append(res, ledger.Result{Transfer: tr})
				it.res, it.scale = len(res), rnd.IntN(5)
				tj := toTransfer(tr, it.scale)
				rj.Transfer = &tj
			}
			it.replayed = rnd.IntN(2) == 0
			rj.Replayed = it.replayed
			items, ref = append(items, it), append(ref, rj)
		}
		want, _ := json.Marshal(ref)
		got := []byte{'['}
		for i := range items {
			if i > 0 {
				got = append(got, ',')
			}
			got, _ = appendBatchItem(got, &items[i], res, false)
		}
		got = append(got, ']')
		if len(items) == 0 {
			want = []byte("[]")
		}
		if string(got) != string(want) {
			t.Fatalf("batch results:\n got %s\nwant %s", got, want)
		}
	}
	for _, e := range []wireError{{Code: "a", Message: "b"}, {Code: "c", Message: "d<>", Field: "f"}} {
		want, _ := json.Marshal(e)
		if got := appendWireError(nil, &e); string(got) != string(want) {
			t.Errorf("appendWireError = %s, want %s", got, want)
		}
	}
}

func TestPrefersMinimal(t *testing.T) {
	tests := []struct {
		hdr  []string
		want bool
	}{
		{nil, false},
		{[]string{"return=minimal"}, true},
		{[]string{"Return=Minimal"}, true},
		{[]string{`return="minimal"`}, true},
		{[]string{" return = minimal ; x=1"}, true},
		{[]string{"respond-async, return=minimal"}, true},
		{[]string{"respond-async", "return=minimal"}, true},
		{[]string{"return=representation"}, false},
		{[]string{"return"}, false},
		{[]string{"minimal"}, false},
		{[]string{"x=return=minimal"}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		for _, h := range tt.hdr {
			r.Header.Add("Prefer", h)
		}
		if got := prefersMinimal(r); got != tt.want {
			t.Errorf("Prefer %q: minimal = %v, want %v", tt.hdr, got, tt.want)
		}
	}
}

// Benchmarks of the hot path's JSON, the fast way against encoding/json.

func benchTransferBody() string {
	return `{"key":"bench-abcdefgh-t12345","debit_account_id":12,"credit_account_id":34,"asset":"USD","amount":"0.42"}`
}

func BenchmarkDecodeTransferInput(b *testing.B) {
	body := benchTransferBody()
	run := func(b *testing.B, f func(w http.ResponseWriter, r *http.Request, in *transferInput) error) {
		w := httptest.NewRecorder()
		for b.Loop() {
			var in transferInput
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			if err := f(w, r, &in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("fast", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request, in *transferInput) error {
			return decodeFast(w, r, maxBody, in, func(d *decoder) bool { return d.transferInput(in) }, func() { *in = transferInput{} })
		})
	})
	b.Run("encoding/json", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request, in *transferInput) error {
			return decode(w, r, maxBody, in)
		})
	})
}

func BenchmarkDecodeBatchInput(b *testing.B) {
	body := `{"transfers":[` + strings.TrimSuffix(strings.Repeat(benchTransferBody()+",", 1000), ",") + `]}`
	run := func(b *testing.B, f func(w http.ResponseWriter, r *http.Request, in *batchInput) error) {
		w := httptest.NewRecorder()
		for b.Loop() {
			var in batchInput
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			if err := f(w, r, &in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("fast", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request, in *batchInput) error {
			return decodeFast(w, r, maxBatchBody, in, func(d *decoder) bool { return d.batchInput(in) }, func() { *in = batchInput{} })
		})
	})
	b.Run("encoding/json", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request, in *batchInput) error {
			return decode(w, r, maxBatchBody, in)
		})
	})
}

func benchStoreTransfer() store.Transfer {
	return store.Transfer{ID: 123456, MerchantID: 1, Key: "bench-abcdefgh-t12345", Kind: "single", DebitAccountID: 12, CreditAccountID: 34,
		Asset: "USD", Amount: 42, State: "posted", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)}
}

func BenchmarkEncodeBatchAnswer(b *testing.B) {
	res := make([]ledger.Result, 1000)
	items := make([]batchItem, len(res))
	ref := make([]batchItemJSON, len(res))
	for i := range res {
		res[i].Transfer = benchStoreTransfer()
		items[i] = batchItem{res: i + 1, scale: 2}
	}
	encode := func(minimal bool) []byte {
		buf := getBuffer(0)
		defer putBuffer(buf)
		b := append(buf.b, `{"results":[`...)
		for i := range items {
			if i > 0 {
				b = append(b, ',')
			}
			b, _ = appendBatchItem(b, &items[i], res, minimal)
		}
		buf.b = append(b, "]}\n"...)
		return buf.b
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			encode(false)
		}
	})
	b.Run("fast minimal", func(b *testing.B) {
		for b.Loop() {
			encode(true)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			for i := range ref {
				t := toTransfer(res[i].Transfer, 2)
				ref[i] = batchItemJSON{Transfer: &t}
			}
			if _, err := json.Marshal(batchJSON{Results: ref}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodeTransfer(b *testing.B) {
	t := benchStoreTransfer()
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			buf := getBuffer(512)
			buf.b, _ = appendTransfer(buf.b, &t, 2)
			putBuffer(buf)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(toTransfer(t, 2)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
