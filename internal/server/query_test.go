package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/server"
)

// TestQueryParam: a surface routed by query parameter takes the site root
// only when the parameter is there, whatever is mounted at the root, and
// leaves every other path to the mux.
func TestQueryParam(t *testing.T) {
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s) })
	}
	srv := httptest.NewServer(server.New(server.Options{Surfaces: []server.Surface{
		{Name: "root", Pattern: "/{$}", Handler: text("root")},
		{Name: "x", Pattern: "/x", Handler: text("x")},
		{Name: "wp", QueryParam: "rest_route", Handler: text("wp")},
	}}).Handler())
	defer srv.Close()
	for _, tc := range []struct{ method, target, want string }{
		{"GET", "/?rest_route=/a", "wp"},
		{"POST", "/?rest_route=", "wp"},
		{"GET", "/index.php?a=1&rest_route=/b", "wp"},
		{"GET", "/", "root"},
		{"GET", "/?other=1", "root"},
		{"GET", "/x?rest_route=/a", "x"},
		{"GET", "/y?rest_route=/a", "not_found"},
		{"GET", "/index.php", "not_found"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.target, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %s: %s, want %s", tc.method, tc.target, b, tc.want)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no request id (middleware skipped)", tc.method, tc.target)
		}
	}
}
