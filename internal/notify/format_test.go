package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/store"
)

// The Standard Webhooks specification's published test vector (the
// signature is "…/tmIK…", with a lowercase m).
const (
	swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTimestamp = 1614265330
	swBody      = `{"test": 2432232314}`
	swSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func swHeader(sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", swID)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", sig)
	return h
}

func TestStandardWebhooksVector(t *testing.T) {
	ts := time.Unix(swTimestamp, 0)
	sig, err := Sign(swSecret, swID, ts, []byte(swBody))
	if err != nil || sig != swSignature {
		t.Fatalf("Sign = %q, %v; want %q", sig, err, swSignature)
	}
	// Without the prefix too.
	if sig, _ := Sign(strings.TrimPrefix(swSecret, SecretPrefix), swID, ts, []byte(swBody)); sig != swSignature {
		t.Errorf("Sign without prefix = %q", sig)
	}
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"valid", swSecret, swHeader(swSignature), swBody, ts, nil},
		{"valid, 4 minutes late", swSecret, swHeader(swSignature), swBody, ts.Add(4 * time.Minute), nil},
		{"valid among several", swSecret, swHeader("v1,bm90IGl0 v2,xyz " + swSignature), swBody, ts, nil},
		{"body changed", swSecret, swHeader(swSignature), `{"test": 2432232315}`, ts, ErrSignature},
		{"other secret", "whsec_" + strings.Repeat("A", 32), swHeader(swSignature), swBody, ts, ErrSignature},
		{"too old", swSecret, swHeader(swSignature), swBody, ts.Add(6 * time.Minute), ErrTimestamp},
		{"from the future", swSecret, swHeader(swSignature), swBody, ts.Add(-6 * time.Minute), ErrTimestamp},
		{"no signature", swSecret, swHeader(""), swBody, ts, ErrMissingHeaders},
		{"wrong version", swSecret, swHeader(strings.Replace(swSignature, "v1,", "v2,", 1)), swBody, ts, ErrSignature},
		{"malformed secret", "whsec_!!!", swHeader(swSignature), swBody, ts, ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyAt(tt.secret, tt.header, []byte(tt.body), 0, tt.now)
			if !errors.Is(err, tt.want) {
				t.Errorf("VerifyAt = %v, want %v", err, tt.want)
			}
		})
	}
	// A header with a timestamp that is not a number.
	h := swHeader(swSignature)
	h.Set("webhook-timestamp", "soon")
	if err := VerifyAt(swSecret, h, []byte(swBody), 0, ts); !errors.Is(err, ErrTimestamp) {
		t.Errorf("non-numeric timestamp: %v", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	key, err := secretKey(a)
	if !strings.HasPrefix(a, SecretPrefix) || err != nil || len(key) < 24 || a == b {
		t.Errorf("NewSecret = %q, %q (key %d bytes, %v)", a, b, len(key), err)
	}
}

func TestWebhooksEncode(t *testing.T) {
	at := time.Unix(1700000000, 0)
	exp := at.Add(time.Hour)
	ep := &store.WebhookEndpoint{ID: 7, Secret: NewSecret(), PrevSecret: NewSecret(), PrevExpiresAt: &exp}
	ev := store.Event{ID: "evt_abc", Type: "transfer.posted", Payload: []byte(`{"id": 1, "note": "a<b & c/d"}`),
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 678000, time.UTC)}
	req, err := Webhooks{UserAgent: "ua"}.Encode(context.Background(), Message{Event: ev, Endpoint: ep, At: at})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"transfer.posted","timestamp":"2025-01-02T03:04:05.000678Z","data":{"id":1,"note":"a<b & c/d"}}`
	if string(req.Body) != want {
		t.Errorf("body = %s\nwant   %s", req.Body, want)
	}
	if req.Header.Get("webhook-id") != "evt_abc" || req.Header.Get("webhook-timestamp") != "1700000000" ||
		req.Header.Get("Content-Type") != "application/json" || req.Header.Get("User-Agent") != "ua" || req.LogBody != nil {
		t.Errorf("headers = %v", req.Header)
	}
	// Both secrets verify during the grace period.
	sigs := strings.Fields(req.Header.Get("webhook-signature"))
	if len(sigs) != 2 {
		t.Fatalf("signatures = %q, want two during the grace period", sigs)
	}
	for _, secret := range []string{ep.Secret, ep.PrevSecret} {
		if err := VerifyAt(secret, req.Header, req.Body, time.Minute, at); err != nil {
			t.Errorf("VerifyAt(%s…) = %v", secret[:10], err)
		}
	}
	// After it, only the new one.
	req, _ = Webhooks{}.Encode(context.Background(), Message{Event: ev, Endpoint: ep, At: exp})
	if sigs := strings.Fields(req.Header.Get("webhook-signature")); len(sigs) != 1 {
		t.Errorf("signatures after the grace period = %q, want one", sigs)
	}
	if err := VerifyAt(ep.PrevSecret, req.Header, req.Body, time.Minute, exp); !errors.Is(err, ErrSignature) {
		t.Errorf("old secret after the grace period: %v", err)
	}
	if !(Webhooks{}).Accepted(204, nil) || (Webhooks{}).Accepted(302, nil) || (Webhooks{}).Accepted(500, nil) {
		t.Error("Accepted: want exactly 2xx")
	}
}

func TestPaykassmaVector(t *testing.T) {
	// WIRE-NOTES §4.5: keys AK/PK → d97dc8af2dea19017b40c609e19835173b55a353.
	const want = `[{"order_id":"7fa13dbc3b79e05e","status":"Success","amount":6008.39}]`
	for _, in := range []string{
		want,
		`{"transactions":[{"order_id":"7fa13dbc3b79e05e","status":"Success","amount":"6008.39"}]}`,
		`{"order_id":"7fa13dbc3b79e05e", "status":"Success", "amount":"6008.390"}`,
	} {
		txs, err := PaykassmaTransactions([]byte(in))
		if err != nil || string(txs) != want {
			t.Fatalf("PaykassmaTransactions(%s) = %s, %v; want %s", in, txs, err, want)
		}
	}
	if sig := PaykassmaSignature("AK", "PK", []byte(want)); sig != "d97dc8af2dea19017b40c609e19835173b55a353" {
		t.Errorf("signature = %s", sig)
	}
	f := Paykassma{Keys: func(_ context.Context, m int64) (string, string, error) {
		if m != 3 {
			return "", "", errors.New("unknown merchant")
		}
		return "AK", "PK", nil
	}}
	req, err := f.Encode(context.Background(), Message{Event: store.Event{MerchantID: 3},
		Delivery: store.Delivery{Data: []byte(`{"order_id":"7fa13dbc3b79e05e","status":"Success","amount":"6008.39"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"access_key":"AK","signature":"d97dc8af2dea19017b40c609e19835173b55a353","transactions":` + want + `}`
	if string(req.Body) != body {
		t.Errorf("body = %s\nwant   %s", req.Body, body)
	}
	if strings.Contains(string(req.LogBody), `"AK"`) || !strings.Contains(string(req.LogBody), "d97dc8af") {
		t.Errorf("log body = %s: want the access key hidden, the rest kept", req.LogBody)
	}
	// A PHP receiver re-encoding the transactions it decoded gets the same
	// bytes: check the round trip through Go's decoder with the PHP rules.
	var parsed struct {
		Transactions json.RawMessage `json:"transactions"`
	}
	_ = json.Unmarshal(req.Body, &parsed)
	if again, _ := phpEncode(parsed.Transactions, nil); !bytes.Equal(again, []byte(want)) {
		t.Errorf("round trip = %s", again)
	}
	if _, err := (Paykassma{}).Encode(context.Background(), Message{Delivery: store.Delivery{Data: []byte(want)}}); err == nil || isPermanent(err) {
		t.Errorf("without keys: %v, want a retryable error", err)
	}
	if _, err := f.Encode(context.Background(), Message{Delivery: store.Delivery{Data: []byte(`"x"`)}}); !isPermanent(err) {
		t.Errorf("bad data: %v, want a permanent error", err)
	}
	accepted := []struct {
		status int
		body   string
		want   bool
	}{
		{200, `{"status":"ok"}`, true},
		{200, `{"status": "ok", "x": 1}`, true},
		{200, `{"status":"OK"}`, false},
		{200, `ok`, false},
		{201, `{"status":"ok"}`, false},
		{500, `{"status":"ok"}`, false},
	}
	for _, a := range accepted {
		if got := f.Accepted(a.status, []byte(a.body)); got != a.want {
			t.Errorf("Accepted(%d, %s) = %v", a.status, a.body, got)
		}
	}
}

// PHP's json_encode with JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE.
func TestPHPJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"https://a.example/x?y=1&z=<2>"`, `"https://a.example/x?y=1&z=<2>"`},
		{`"Mingalaba မင်္ဂလာပါ €"`, `"Mingalaba မင်္ဂလာပါ €"`},
		{`"q\"b\\s\/"`, `"q\"b\\s/"`},
		{`"\b\f\n\r\t\u0001\u001f\u007f"`, "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\""},
		{`"\u2028\u2029"`, `"\u2028\u2029"`},
		{`{ "b" : [1, 2.50, -0.10, true, null], "a": {} , "c": []}`, `{"b":[1,2.5,-0.1,true,null],"a":{},"c":[]}`},
		{`6000.00`, `6000`},
		{`-12`, `-12`},
		{`0.0001`, `0.0001`},
	}
	for _, tt := range tests {
		got, err := phpEncode([]byte(tt.in), nil)
		if err != nil || string(got) != tt.want {
			t.Errorf("phpEncode(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`1e5`, `0.00001`, `123456789012345678901`, `1.23456789012345678`, `[1,`} {
		if got, err := phpEncode([]byte(bad), nil); err == nil {
			t.Errorf("phpEncode(%q) = %s, want an error", bad, got)
		}
	}
}

func TestMugglePayBody(t *testing.T) {
	f := MugglePay{}
	data := `{"merchant_order_id":"100388","order_id":"94be2b2a-1111","status":"PAID","price_amount":"0.14","price_currency":"USD",
		"pay_amount":1,"pay_currency":"CNY","created_at":"2019-04-24T17:23:54.311Z","token":"tok/en+1",
		"meta":{"payment":"ALIPAY", "total_amount":1.00}}`
	req, err := f.Encode(context.Background(), Message{Delivery: store.Delivery{Data: []byte(data)}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"merchant_order_id":"100388","order_id":"94be2b2a-1111","status":"PAID","price_amount":0.14,"price_currency":"USD",` +
		`"pay_amount":1,"pay_currency":"CNY","created_at":"2019-04-24T17:23:54.311Z","created_at_t":1556126634311,` +
		`"token":"tok/en+1","meta":{"payment":"ALIPAY","total_amount":1.00}}`
	if string(req.Body) != want {
		t.Errorf("body = %s\nwant   %s", req.Body, want)
	}
	if strings.Contains(string(req.LogBody), "tok/en") || !strings.Contains(string(req.LogBody), `"token":"[redacted]"`) {
		t.Errorf("log body = %s", req.LogBody)
	}
	// The body decodes into the shape Go MugglePay clients use (numbers).
	var client struct {
		PriceAmount float64 `json:"price_amount"`
		PayAmount   float64 `json:"pay_amount"`
		CreatedAtT  int64   `json:"created_at_t"`
	}
	if err := json.Unmarshal(req.Body, &client); err != nil || client.PriceAmount != 0.14 || client.CreatedAtT != 1556126634311 {
		t.Errorf("client decode = %+v, %v", client, err)
	}

	// No token: left out; a number merchant_order_id stays a number; pay
	// amount and currency default to the price's; exact digits kept.
	data = `{"merchant_order_id":100388,"order_id":"o-2","status":"PAID","price_amount":"123456789012345678.10","price_currency":"USD","created_at_t":5}`
	req, err = f.Encode(context.Background(), Message{Event: store.Event{Payload: []byte(data)}})
	if err != nil {
		t.Fatal(err)
	}
	want = `{"merchant_order_id":100388,"order_id":"o-2","status":"PAID","price_amount":123456789012345678.10,"price_currency":"USD",` +
		`"pay_amount":123456789012345678.10,"pay_currency":"USD","created_at":"","created_at_t":5}`
	if string(req.Body) != want || req.LogBody != nil {
		t.Errorf("body = %s\nwant   %s (log body %s)", req.Body, want, req.LogBody)
	}
	for _, bad := range []string{`{"order_id":"o","status":"PAID","price_amount":"1,5"}`, `{"status":"PAID","price_amount":"1"}`, `[`} {
		if _, err := f.Encode(context.Background(), Message{Delivery: store.Delivery{Data: []byte(bad)}}); !isPermanent(err) {
			t.Errorf("Encode(%s) = %v, want a permanent error", bad, err)
		}
	}
	accepted := []struct {
		status int
		body   string
		want   bool
	}{
		{200, `{"status":200}`, true},
		{200, `{"status":"200"}`, true},
		{200, `{"status": 200, "message": "ok"}`, true},
		{200, `{"status":201}`, false},
		{200, `OK`, false},
		{200, ``, false},
		{201, `{"status":200}`, false},
		{500, `{"status":200}`, false},
	}
	for _, a := range accepted {
		if got := f.Accepted(a.status, []byte(a.body)); got != a.want {
			t.Errorf("Accepted(%d, %q) = %v", a.status, a.body, got)
		}
	}
}

func TestNumberToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"12.50", "12.50"}, {"007", "7"}, {"-0.5", "-0.5"}, {".5", "0.5"}, {"0", "0"}, {"-3", "-3"},
	}
	for _, tt := range tests {
		if got, err := numberToken(tt.in); err != nil || got != tt.want {
			t.Errorf("numberToken(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-", "1.", "1e5", "+1", "1,5", "NaN", " 1", "1.2.3", "0x10"} {
		if got, err := numberToken(bad); err == nil {
			t.Errorf("numberToken(%q) = %q, want an error", bad, got)
		}
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		filters []string
		typ     string
		want    bool
	}{
		{[]string{"*"}, "order.paid", true},
		{[]string{"order.*"}, "order.paid", true},
		{[]string{"order.*"}, "order.refund.created", true},
		{[]string{"order.*"}, "orders.paid", false},
		{[]string{"order.*"}, "order", false},
		{[]string{"order.paid"}, "order.paid", true},
		{[]string{"order.paid"}, "order.paid2", false},
		{[]string{"transfer.posted", "order.*"}, "transfer.posted", true},
		{nil, "order.paid", false},
	}
	for _, tt := range tests {
		if got := matches(tt.filters, tt.typ); got != tt.want {
			t.Errorf("matches(%v, %q) = %v", tt.filters, tt.typ, got)
		}
	}
	for _, ok := range [][]string{{"*"}, {"order.*", "transfer.posted"}, {"a_b-c.d"}} {
		if err := checkFilters(ok); err != nil {
			t.Errorf("checkFilters(%q) = %v", ok, err)
		}
	}
	for _, bad := range [][]string{nil, {}, {""}, {"Order.paid"}, {"order.*.paid"}, {".*"}, {"order..paid"}, {"order."}, {"*.paid"}, {"a b"}} {
		if err := checkFilters(bad); err == nil {
			t.Errorf("checkFilters(%q) accepted", bad)
		}
	}
}

func TestSchedules(t *testing.T) {
	noJitter := func(s Schedule) Schedule { s.Jitter = 0; return s }
	// Walk a series that never succeeds: the times of the attempts.
	walk := func(s Schedule) []time.Duration {
		start := time.Unix(0, 0)
		at := start
		out := []time.Duration{0}
		for retries := 0; ; retries++ {
			next, ok := s.Next(retries, start, at)
			if !ok {
				return out
			}
			at = next
			out = append(out, at.Sub(start))
		}
	}
	got := walk(noJitter(DefaultSchedule))
	want := []time.Duration{0, 5 * time.Second, 65 * time.Second, 6*time.Minute + 5*time.Second, 36*time.Minute + 5*time.Second,
		2*time.Hour + 36*time.Minute + 5*time.Second, 7*time.Hour + 36*time.Minute + 5*time.Second}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("default attempt %d at %v, want %v", i+1, got[i], w)
		}
	}
	last := got[len(got)-1]
	if len(got) != 14 || last < 72*time.Hour || last-got[len(got)-2] != 10*time.Hour {
		t.Errorf("default schedule: %d attempts, last at %v; want 14, the last after 3 days", len(got), last)
	}
	got = walk(noJitter(MugglePaySchedule))
	for i, m := range []int{0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 767} {
		if got[i] != time.Duration(m)*time.Minute {
			t.Errorf("mugglepay attempt %d at %v, want %d min", i+1, got[i], m)
		}
	}
	if last := got[len(got)-1]; last < 72*time.Hour || last > 77*time.Hour {
		t.Errorf("mugglepay schedule ends at %v", last)
	}
	// Jitter stays within ±10 %.
	for range 1000 {
		next, _ := DefaultSchedule.Next(6, time.Unix(0, 0), time.Unix(0, 0))
		if d := next.Sub(time.Unix(0, 0)); d < 9*time.Hour || d > 11*time.Hour {
			t.Fatalf("jittered 10 h delay = %v", d)
		}
	}
}

func TestAddresses(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
		"::1", "::", "fe80::1", "fc00::1", "fd12::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "100.64.0.1", "224.0.0.1",
		"255.255.255.255", "ff02::1", "2002:7f00:1::1", "64:ff9b:1::1"} {
		if PublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("PublicAddress(%s) = true", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"} {
		if !PublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("PublicAddress(%s) = false", s)
		}
	}
	for _, u := range []string{"https://example.com/hook", "http://example.com:8080/x?y=1", "https://8.8.8.8/"} {
		if err := CheckURL(u, false); err != nil {
			t.Errorf("CheckURL(%s) = %v", u, err)
		}
	}
	for _, u := range []string{"", "ftp://example.com/", "example.com/hook", "https://", "https://user:pw@example.com/",
		"http://localhost:8080/", "http://127.0.0.1/", "http://[::1]/", "http://10.0.0.1/", "http://169.254.169.254/latest",
		"https://" + strings.Repeat("a", 2050) + ".com/"} {
		if err := CheckURL(u, false); err == nil {
			t.Errorf("CheckURL(%q) accepted", u)
		}
	}
	if err := CheckURL("http://127.0.0.1:9/x", true); err != nil {
		t.Errorf("CheckURL(loopback, allowed) = %v", err)
	}
}

// The public client's verifier accepts what the dispatcher signs, with
// either secret during a rotation.
func TestClientVerifiesWebhooks(t *testing.T) {
	now := time.Now()
	exp := now.Add(time.Hour)
	ep := &store.WebhookEndpoint{Secret: NewSecret(), PrevSecret: NewSecret(), PrevExpiresAt: &exp}
	req, err := Webhooks{}.Encode(context.Background(), Message{Event: store.Event{ID: store.NewEventID(), Type: "a.b", Payload: []byte(`{}`), CreatedAt: now}, Endpoint: ep, At: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{ep.Secret, ep.PrevSecret} {
		if err := client.VerifyWebhook(s, req.Header, req.Body, 0); err != nil {
			t.Errorf("client.VerifyWebhook = %v", err)
		}
	}
	if err := client.VerifyWebhook(NewSecret(), req.Header, req.Body, 0); err == nil {
		t.Error("client.VerifyWebhook accepted another secret")
	}
}
