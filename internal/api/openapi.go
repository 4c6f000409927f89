package api

import (
	_ "embed"
	"net/http"
	"strconv"

	"github.com/coffer-pay/coffer/internal/store"
)

// openAPIDoc is the hand-written OpenAPI 3.1 description of this API. The
// route test checks that it documents exactly the routes served.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPI serves the document (GET /coffer/v1/openapi.json); it needs no key.
func (h *handler) openAPI(w http.ResponseWriter, _ *http.Request, _ store.APIKey) error {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	hd.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
	return nil
}
