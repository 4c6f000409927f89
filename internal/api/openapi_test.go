package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

type openAPIDocument struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
}

func loadDoc(t *testing.T) openAPIDocument {
	t.Helper()
	var d openAPIDocument
	if err := json.Unmarshal(openAPIDoc, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", d.OpenAPI)
	}
	return d
}

// documented lists the (METHOD path) pairs of the document.
func documented(d openAPIDocument) []string {
	var out []string
	for path, item := range d.Paths {
		for m := range item {
			switch m {
			case "get", "post", "put", "patch", "delete", "head", "options", "trace":
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

func newTestHandler(t *testing.T) http.Handler {
	t.Helper()
	eng := ledger.New(sqlite.OpenTest(t), ledger.Options{ExpiryInterval: -1})
	t.Cleanup(func() { eng.Close(context.Background()) })
	return New(Config{Engine: eng})
}

// TestOpenAPIMatchesRoutes holds the document and the route table to each
// other, and sends a request for every documented operation through the
// real handler to check that it is routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	d := loadDoc(t)
	docOps := documented(d)
	var served []string
	public := map[string]bool{}
	for _, rt := range routes() {
		op := rt.Method + " " + rt.Path
		served = append(served, op)
		public[op] = rt.Public
	}
	sort.Strings(served)
	inDoc := map[string]bool{}
	for _, op := range docOps {
		inDoc[op] = true
	}
	for _, op := range served {
		if !inDoc[op] {
			t.Errorf("%s is served but not documented", op)
		}
	}
	isServed := map[string]bool{}
	for _, op := range served {
		isServed[op] = true
	}
	for _, op := range docOps {
		if !isServed[op] {
			t.Errorf("%s is documented but not in the route table", op)
		}
	}

	h := newTestHandler(t)
	for _, op := range docOps {
		t.Run(op, func(t *testing.T) {
			method, path, _ := strings.Cut(op, " ")
			target := strings.ReplaceAll(path, "{id}", "1")
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader("{}")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(method, target, body))
			want := http.StatusUnauthorized
			if public[op] {
				want = http.StatusOK
			}
			if w.Code != want {
				t.Errorf("%s %s = %d %s, want %d (routed)", method, target, w.Code, w.Body, want)
			}
			// Every documented operation declares its security and answers.
			var o struct {
				Security  []map[string][]string      `json:"security"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(d.Paths[path][strings.ToLower(method)], &o); err != nil {
				t.Fatal(err)
			}
			if public[op] != (o.Security != nil && len(o.Security) == 0) {
				t.Errorf("security of %s does not match the route's Public flag", op)
			}
			if !public[op] && o.Responses["401"] == nil {
				t.Errorf("%s does not document its 401", op)
			}
		})
	}
}

// TestOpenAPIRefs checks that every $ref of the document resolves.
func TestOpenAPIRefs(t *testing.T) {
	d := loadDoc(t)
	var walk func(v any)
	n := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					n++
					parts := strings.Split(strings.TrimPrefix(s, "#/components/"), "/")
					if len(parts) != 2 || d.Components[parts[0]][parts[1]] == nil {
						t.Errorf("$ref %q does not resolve", s)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var all any
	if err := json.Unmarshal(openAPIDoc, &all); err != nil {
		t.Fatal(err)
	}
	walk(all)
	if n == 0 {
		t.Errorf("no $ref found")
	}
}

func TestServesOpenAPI(t *testing.T) {
	h := newTestHandler(t)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/coffer/v1/openapi.json", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(openAPIDoc) {
		t.Errorf("GET openapi.json = %d %s", w.Code, w.Header())
	}
}

func TestUnroutedAnswers(t *testing.T) {
	h := newTestHandler(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/coffer/v1/nothing", 404, "no_route", ""},
		{"GET", "/coffer/v1/", 404, "no_route", ""},
		{"DELETE", "/coffer/v1/accounts/1", 405, "method_not_allowed", "GET"},
		{"PUT", "/coffer/v1/transfers", 405, "method_not_allowed", "GET, POST"},
		{"GET", "/coffer/v1/transfers/1/post", 405, "method_not_allowed", "POST"},
		{"POST", "/coffer/v1/openapi.json", 405, "method_not_allowed", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			var b errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if w.Code != tt.status || b.Error.Code != tt.code || w.Header().Get("Allow") != tt.allow {
				t.Errorf("= %d %s Allow %q, want %d %s Allow %q", w.Code, b.Error.Code, w.Header().Get("Allow"), tt.status, tt.code, tt.allow)
			}
		})
	}
}
