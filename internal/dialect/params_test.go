package dialect

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func multipartBody(t testing.TB, fields [][2]string) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestParse(t *testing.T) {
	ct, mp := multipartBody(t, [][2]string{{"amount", "4.5"}, {"description", "Payment trough SuperGateway, ID: 154YTR984YX"}})
	tests := []struct {
		name        string
		method, url string
		ctype, body string
		json        bool
		first, last map[string]string
		names       []string
		wantErr     bool
	}{
		{name: "query only", method: "GET", url: "/x?u=admin&user_id=123&u=username",
			first: map[string]string{"u": "admin", "user_id": "123"}, last: map[string]string{"u": "username"},
			names: []string{"u", "user_id"}},
		{name: "form body after query", method: "POST", url: "/x?a=1", ctype: "application/x-www-form-urlencoded", body: "a=2&b=%2Fx+y",
			first: map[string]string{"a": "1", "b": "/x y"}, last: map[string]string{"a": "2"}, names: []string{"a", "b"}},
		{name: "multipart", method: "POST", url: "/api.php?go=store", ctype: ct, body: mp.String(),
			first: map[string]string{"go": "store", "amount": "4.5", "description": "Payment trough SuperGateway, ID: 154YTR984YX"}},
		{name: "json exact numbers", method: "POST", url: "/x", ctype: "application/json", json: true,
			body:  `{"price_amount": 10.10, "merchant_order_id": 100388, "fast": true, "title": "a\u00e9", "meta": {"b": [1, 2]}, "n": null}`,
			first: map[string]string{"price_amount": "10.10", "merchant_order_id": "100388", "fast": "true", "title": "aé", "meta": `{"b":[1,2]}`},
			names: []string{"price_amount", "merchant_order_id", "fast", "title", "meta"}},
		{name: "json ignored unless allowed", method: "POST", url: "/x?k=1", ctype: "application/json", body: `{"k":2}`,
			last: map[string]string{"k": "1"}},
		{name: "json array refused", method: "POST", url: "/x", ctype: "application/json", json: true, body: `[1]`, wantErr: true},
		{name: "json trailing data refused", method: "POST", url: "/x", ctype: "application/json", json: true, body: `{"a":1} {"b":2}`, wantErr: true},
		{name: "bad query escape", method: "GET", url: "/x?a=%zz", wantErr: true},
		{name: "GET body ignored", method: "GET", url: "/x?a=1", ctype: "application/x-www-form-urlencoded", body: "a=2", last: map[string]string{"a": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			p, err := Parse(r, ParseOptions{JSON: tc.json})
			if tc.wantErr {
				if !errors.Is(err, ErrBody) {
					t.Fatalf("got %v, want ErrBody", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.first {
				if got := p.First(k); got != want {
					t.Errorf("First(%q) = %q, want %q", k, got, want)
				}
			}
			for k, want := range tc.last {
				if got := p.Last(k); got != want {
					t.Errorf("Last(%q) = %q, want %q", k, got, want)
				}
			}
			if tc.names != nil && !reflect.DeepEqual(p.Names(), tc.names) {
				t.Errorf("Names() = %v, want %v", p.Names(), tc.names)
			}
			if p.Has("absent") {
				t.Errorf("Has(absent)")
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("u=admin&user_id=123&u=username", "application/x-www-form-urlencoded", "amount=4.5")
	f.Add("a=1", "application/json", `{"a":2,"b":{"c":[1]}}`)
	f.Add("", "multipart/form-data; boundary=xx", "--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xx--\r\n")
	f.Add("%", "text/plain", "")
	f.Fuzz(func(t *testing.T, query, ctype, body string) {
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ctype)
		p, err := Parse(r, ParseOptions{JSON: true})
		if err != nil {
			if !errors.Is(err, ErrBody) {
				t.Fatalf("error %v is not ErrBody", err)
			}
			return
		}
		for _, k := range p.Names() {
			if !p.Has(k) || len(p.All(k)) == 0 {
				t.Fatalf("name %q listed without values", k)
			}
			_ = p.First(k) + p.Last(k)
		}
	})
}
