package client

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The hand-written encoders and decoders must agree with encoding/json
// byte for byte and value for value.

var oddStrings = []string{
	"", "k", "order-42", "USD", "12.50", `a"b`, `back\slash`, "<script>&", "tab\there", "nl\n", "\x00\x1f\x7f",
	"héllo", "日本", "\u2028\u2029", "bad\xffutf8", strings.Repeat("x", 300),
}

var oddMetadata = []json.RawMessage{
	nil, json.RawMessage(``), json.RawMessage(`{}`), json.RawMessage(`{"order":"42"}`),
	json.RawMessage(` { "a" : [1, 2.5e3, true, null] , "b":"<&>" } `), json.RawMessage(`"x"`), json.RawMessage(`12`),
	json.RawMessage(`{"u":"\u00e9\n"}`), json.RawMessage(`{bad`), json.RawMessage(`{"a":1}{"b":2}`),
}

func TestEncodeMatchesMarshal(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(ss []string) string { return ss[rnd.IntN(len(ss))] }
	var reqs []TransferRequest
	for range 2000 {
		reqs = append(reqs, TransferRequest{
			Key: pick(oddStrings), DebitAccountID: rnd.Int64() - rnd.Int64(), CreditAccountID: rnd.Int64N(1000),
			Asset: pick(oddStrings), Amount: pick(oddStrings), Pending: rnd.IntN(2) == 0, TimeoutSeconds: rnd.Int64N(3) - 1,
			Linked: rnd.IntN(2) == 0, Metadata: oddMetadata[rnd.IntN(len(oddMetadata))],
		})
	}
	for _, r := range reqs {
		want, wantErr := json.Marshal(r)
		got, err := encode(&r)
		if string(got) != string(want) || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("encode(%+v) = %s, %v; json.Marshal = %s, %v", r, got, err, want, wantErr)
		}
	}
	for i := 0; i+5 <= len(reqs); i += 5 {
		for _, b := range []BatchRequest{{Transfers: reqs[i : i+5]}, {Transfers: reqs[i : i+1], Atomic: true}, {}, {Transfers: []TransferRequest{}}} {
			want, wantErr := json.Marshal(b)
			got, err := encode(&b)
			if string(got) != string(want) || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("encode(batch) = %s, %v; json.Marshal = %s, %v", got, err, want, wantErr)
			}
		}
	}
}

// transferSeeds are answers to decode: what the server sends, and a
// collection of things it does not.
var transferSeeds = []string{
	`{"id":7,"key":"k","kind":"single","debit_account_id":1,"credit_account_id":2,"asset":"USD","amount":"1.50","state":"posted","created_at":"2026-01-02T03:04:05.123456Z"}`,
	`{"id":8,"key":"p","kind":"post","debit_account_id":1,"credit_account_id":2,"asset":"EUR","amount":"0.01","pending_id":5,"state":"posted","metadata":{"a":[1,{"b":"c"}],"z":null},"created_at":"2026-01-02T03:04:05Z"}`,
	`{"id":9,"key":"h","kind":"pending","debit_account_id":1,"credit_account_id":2,"asset":"USD","amount":"3","state":"pending","timeout_at":"2026-01-02T03:19:05.5Z","created_at":"2026-01-02T03:04:05+02:00"}`,
	` { "id" : 7 , "key" : "k" } `,
	`{}`, `[]`, `null`, ``, `{`, `{"id":}`, `{"id":7,}`, `{"id":7}x`, `{"id":7}{}`, `{"id":07}`, `{"id":-0}`, `{"id":-}`,
	`{"id":1.0}`, `{"id":1e3}`, `{"id":9223372036854775807}`, `{"id":9223372036854775808}`, `{"id":-9223372036854775808}`,
	`{"id":123456789012345678}`, `{"id":"7"}`, `{"id":null}`, `{"id":true}`, `{"ID":7}`, `{"Key":"x"}`, `{"id":1,"id":2}`,
	`{"key":"a\"b"}`, `{"key":"\u00e9"}`, `{"key":"é"}`, `{"key":"a\tb"}`, `{"key":null}`, `{"key":5}`,
	`{"metadata":null}`, `{"metadata":{}}`, `{"metadata":{"a":"}"}}`, `{"metadata":{"a":"\"}"}}`, `{"metadata":[1,2]}`,
	`{"metadata":"x"}`, `{"metadata":12.5e-3}`, `{"metadata":true}`, `{"metadata":{"a":1]}`, `{"metadata":{"a":1}`,
	`{"metadata":{"a":1},"metadata":{"b":2}}`, `{"metadata":nul}`, `{"metadata":1.}`, `{"metadata":"\x"}`,
	`{"created_at":"2026-01-02T03:04:05Z"}`, `{"created_at":"2026-13-02T03:04:05Z"}`, `{"created_at":"yesterday"}`,
	`{"created_at":null}`, `{"created_at":5}`, `{"timeout_at":null}`, `{"timeout_at":"2026-01-02T03:04:05.999999999Z"}`,
	`{"timeout_at":"2026-01-02 03:04:05Z"}`, `{"unknown":1}`, `{"replayed":true}`, `{"kind":"weird","state":"expired"}`,
	"{\"id\":7\n,\r\"key\"\t:\"k\"}", `{"id":7 "key":"k"}`, `{"id" 7}`, `{"id":7`, `{"key":"k`, `{"key":"k\`,
}

func TestDecodeTransferMatchesUnmarshal(t *testing.T) {
	for _, in := range transferSeeds {
		checkTransfer(t, []byte(in))
	}
	// Mutations of valid answers: whatever the fast path accepts, it must
	// decode as encoding/json does; whatever it refuses, encoding/json
	// decides.
	rnd := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(`{}[]":,.-+eE0123456789 tfnulrsaxyz\` + "\t\n\xff")
	for range 30000 {
		b := []byte(transferSeeds[rnd.IntN(3)])
		for range 1 + rnd.IntN(3) {
			i := rnd.IntN(len(b))
			switch rnd.IntN(3) {
			case 0:
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[rnd.IntN(len(alphabet))]}, b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		checkTransfer(t, b)
	}
}

func checkTransfer(t *testing.T, in []byte) {
	t.Helper()
	var want, got Transfer
	wantErr := json.Unmarshal(in, &want)
	err := decodeTransfer(in, &got)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %q:\n got %+v, %v\nwant %+v, %v", in, got, err, want, wantErr)
	}
}

func FuzzDecodeTransfer(f *testing.F) {
	for _, s := range transferSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkTransfer(t, in) })
}

// leanSeeds are batch answers: minimal, full, and odd.
var leanSeeds = []string{
	`{"results":[{"id":1},{"id":2,"replayed":true},{"error":{"code":"insufficient_funds","message":"no","field":"amount"}},{"error":{"code":"x","message":"y"},"replayed":true}]}`,
	`{"results":[{"transfer":` + transferSeeds[0] + `},{"transfer":` + transferSeeds[1] + `,"replayed":true},{"error":{"code":"c","message":"m"}}]}`,
	`{"results":[]}`, `{"results":null}`, `{}`, `{"results":[{}]}`, `{"results":[null]}`, `{"results":[{"id":1}],"results":[{"id":2}]}`,
	`{"Results":[{"id":1}]}`, `{"results":[{"ID":1}]}`, `{"results":[{"transfer":{"ID":5}}]}`, `{"results":[{"transfer":{"Id":5,"id":6}}]}`,
	`{"results":[{"transfer":{"id":5,"id":6}}]}`, `{"results":[{"transfer":null}]}`, `{"results":[{"transfer":{"id":5},"id":7}]}`,
	`{"results":[{"id":7,"transfer":{"id":5}}]}`, `{"results":[{"transfer":{"x":null,"id":3}}]}`, `{"results":[{"error":null}]}`,
	`{"results":[{"error":{"code":5}}]}`, `{"results":[{"error":{"code":"a\u00e9","other":1}}]}`, `{"results":[{"replayed":"yes"}]}`,
	`{"results":[{"id":1},]}`, `{"results":[{"id":1}`, `{"results":[{"id":1}]}]`, `{"results":[{"id":1.5}]}`, `{"results":{}}`,
	`{"results":[{"transfer":{"id":1,"metadata":{"a":"]"}}}]}`, `{"results":[{"transfer":{"id":1,"metadata":{"a":"]"}}]}`,
}

func TestDecodeLeanMatchesUnmarshal(t *testing.T) {
	for _, in := range leanSeeds {
		checkLean(t, []byte(in))
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte(`{}[]":,.-+eE0123456789 tfnulrsaxyzid\` + "\t\n\xff")
	for range 30000 {
		b := []byte(leanSeeds[rnd.IntN(2)])
		for range 1 + rnd.IntN(3) {
			i := rnd.IntN(len(b))
			switch rnd.IntN(3) {
			case 0:
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[rnd.IntN(len(alphabet))]}, b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		checkLean(t, b)
	}
}

// leanReference is the definition of the lean decoding.
func leanReference(in []byte) ([]BatchOutcome, error) {
	var slow struct {
		Results []leanItem `json:"results"`
	}
	if err := json.Unmarshal(in, &slow); err != nil {
		return nil, err
	}
	var out []BatchOutcome
	if slow.Results != nil {
		out = []BatchOutcome{}
	}
	for _, it := range slow.Results {
		o := BatchOutcome{ID: it.ID, Error: it.Error, Replayed: it.Replayed}
		if it.Transfer != nil {
			o.ID = it.Transfer.ID
		}
		out = append(out, o)
	}
	return out, nil
}

func checkLean(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := leanReference(in)
	lr := leanResults{hint: 3}
	err := decodeLeanResults(in, &lr)
	got := lr.out
	if len(got) == 0 && len(want) == 0 && (got == nil) == (want == nil) {
		got, want = nil, nil // capacity does not matter
	}
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %q:\n got %+v, %v\nwant %+v, %v", in, got, err, want, wantErr)
	}
}

func FuzzDecodeLean(f *testing.F) {
	for _, s := range leanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkLean(t, in) })
}

// The fast paths must take what the server sends, or they are useless.
func TestFastPathsAccept(t *testing.T) {
	for _, in := range transferSeeds[:3] {
		var tr Transfer
		s := scanner{b: []byte(in)}
		if !s.transfer(&tr) || !s.end() {
			t.Errorf("fast path refuses %s", in)
		}
	}
	for _, in := range leanSeeds[:2] {
		var out []BatchOutcome
		s := scanner{b: []byte(in)}
		if !s.leanResults(&out, 0) || !s.end() {
			t.Errorf("fast path refuses %s", in)
		}
	}
	r := TransferRequest{Key: "k-1", DebitAccountID: 1, CreditAccountID: 2, Asset: "USD", Amount: "1.00", Metadata: json.RawMessage(`{"a":1}`)}
	if _, ok := encodeBatchRequest(&BatchRequest{Transfers: []TransferRequest{r, r}}); !ok {
		t.Errorf("fast path refuses a batch")
	}
}

func BenchmarkDecodeTransfer(b *testing.B) {
	in := []byte(transferSeeds[0])
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			var t Transfer
			if err := decodeTransfer(in, &t); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var t Transfer
			if err := json.Unmarshal(in, &t); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecodeBatch(b *testing.B) {
	full := `{"results":[` + strings.TrimSuffix(strings.Repeat(`{"transfer":`+transferSeeds[0]+`},`, 1000), ",") + `]}`
	minimal := `{"results":[` + strings.TrimSuffix(strings.Repeat(`{"id":123456},`, 1000), ",") + `]}`
	b.Run("full/CreateTransfers", func(b *testing.B) {
		for b.Loop() {
			var out struct {
				Results []BatchResult `json:"results"`
			}
			if err := json.Unmarshal([]byte(full), &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full/lean", func(b *testing.B) {
		for b.Loop() {
			lr := leanResults{hint: 1000}
			if err := decodeLeanResults([]byte(full), &lr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("minimal/lean", func(b *testing.B) {
		for b.Loop() {
			lr := leanResults{hint: 1000}
			if err := decodeLeanResults([]byte(minimal), &lr); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodeTransfer(b *testing.B) {
	r := TransferRequest{Key: "bench-abcdefgh-t12345", DebitAccountID: 12, CreditAccountID: 34, Asset: "USD", Amount: "0.42"}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			encode(&r)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(&r)
		}
	})
}

// Full batch results: the fast path must decode as encoding/json does.
func TestDecodeBatchResultsMatchesUnmarshal(t *testing.T) {
	check := func(in []byte) {
		t.Helper()
		var want, got batchResults
		wantErr := json.Unmarshal(in, &want)
		err := decodeBatchResults(in, &got, 2)
		if len(got.Results) == 0 && len(want.Results) == 0 && (got.Results == nil) == (want.Results == nil) {
			got.Results, want.Results = nil, nil // capacity does not matter
		}
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("decode %q:\n got %+v, %v\nwant %+v, %v", in, got, err, want, wantErr)
		}
	}
	seeds := append([]string{`{"results":[{"transfer":{"id":1},"replayed":false},{"replayed":true,"error":{"code":"c","message":"m"}}]}`,
		`{"results":[{"transfer":null}]}`, `{"results":[{"Transfer":{"id":1}}]}`, `{"results":[{"transfer":{"id":1},"transfer":{"id":2}}]}`,
		`{"results":[{"transfer":{"id":1,"Kind":"x"}}]}`}, leanSeeds...)
	for _, s := range seeds {
		check([]byte(s))
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	alphabet := []byte(`{}[]":,.-+eE0123456789 tfnulrsaxyzid\` + "\t\n\xff")
	for range 30000 {
		b := []byte(seeds[rnd.IntN(2)])
		if rnd.IntN(2) == 0 {
			b = []byte(leanSeeds[1])
		}
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
		check(b)
	}
	var out batchResults
	s := scanner{b: []byte(leanSeeds[1])}
	if !s.batchResults(&out, 0) || !s.end() {
		t.Errorf("fast path refuses %s", leanSeeds[1])
	}
}

func FuzzDecodeBatchResults(f *testing.F) {
	for _, s := range leanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want, got batchResults
		wantErr := json.Unmarshal(in, &want)
		err := decodeBatchResults(in, &got, 0)
		if len(got.Results) == 0 && len(want.Results) == 0 && (got.Results == nil) == (want.Results == nil) {
			got.Results, want.Results = nil, nil
		}
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("decode %q:\n got %+v, %v\nwant %+v, %v", in, got, err, want, wantErr)
		}
	})
}
