package api

import (
	"net/http"

	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/dialect/cmmp/extwallet"
	"github.com/coffer-pay/coffer/internal/store"
)

// External wallet mode: when this server is the client of a main site's
// wallets (coffer serve --external-wallet-url … --external-wallet-key …),
// an admin pulls the state of every wallet of the main site into this
// server's ledger. A refresh of many wallets takes longer than a request
// may, so it runs in the background: POST starts it, GET follows it.

// ExternalWallet is the external wallet mode as the API uses it
// (*extwallet.Mirror).
type ExternalWallet interface {
	Start() extwallet.Status
	Status() extwallet.Status
}

func externalWalletRoutes() []route {
	return []route{
		{Method: "POST", Path: "/coffer/v1/external-wallet/refresh", serve: (*handler).startRefresh},
		{Method: "GET", Path: "/coffer/v1/external-wallet/refresh", serve: (*handler).refreshStatus},
	}
}

var errNoExternalWallet = &apiError{Status: http.StatusConflict, Code: "not_external_wallet",
	Message: "this server is not an external wallet client: start it with --external-wallet-url and --external-wallet-key"}

// refreshJSON is a refresh's progress or outcome.
type refreshJSON struct {
	State      string   `json:"state"`
	MainSite   string   `json:"main_site"`
	MerchantID int64    `json:"merchant_id"`
	StartedAt  string   `json:"started_at,omitempty"`
	FinishedAt string   `json:"finished_at,omitempty"`
	Wallets    int64    `json:"wallets"`
	Created    int64    `json:"created"`
	Updated    int64    `json:"updated"`
	Unchanged  int64    `json:"unchanged"`
	Failed     int64    `json:"failed"`
	Problems   []string `json:"problems"`
	Error      string   `json:"error,omitempty"`
}

func toRefresh(s extwallet.Status) refreshJSON {
	out := refreshJSON{State: s.State, MainSite: s.MainSite, MerchantID: s.MerchantID, Wallets: s.Wallets, Created: s.Created,
		Updated: s.Updated, Unchanged: s.Unchanged, Failed: s.Failed, Problems: s.Problems, Error: s.Error}
	if s.StartedAt != nil {
		out.StartedAt = timeJSON(*s.StartedAt)
	}
	if s.FinishedAt != nil {
		out.FinishedAt = timeJSON(*s.FinishedAt)
	}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	return out
}

func (h *handler) externalWallet(key store.APIKey) (ExternalWallet, error) {
	if key.Role != apikey.RoleAdmin {
		return nil, errAdminOnly
	}
	if h.extWallet == nil {
		return nil, errNoExternalWallet
	}
	return h.extWallet, nil
}

// startRefresh answers POST /coffer/v1/external-wallet/refresh: it starts
// a refresh unless one is running, and answers 202 with its progress.
func (h *handler) startRefresh(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	x, err := h.externalWallet(key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toRefresh(x.Start()))
	return nil
}

// refreshStatus answers GET /coffer/v1/external-wallet/refresh: the
// running refresh's progress, or the last one's outcome.
func (h *handler) refreshStatus(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	x, err := h.externalWallet(key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRefresh(x.Status()))
	return nil
}
