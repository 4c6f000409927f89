package client

import (
	"context"
	"net/http"
	"time"
)

// ExternalWalletRefresh is the progress or outcome of pulling every wallet
// of the main site into a server that is an external wallet client.
type ExternalWalletRefresh struct {
	State      string     `json:"state"` // idle, running, done or failed
	MainSite   string     `json:"main_site"`
	MerchantID int64      `json:"merchant_id"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Wallets    int64      `json:"wallets"`   // main-site wallets read so far
	Created    int64      `json:"created"`   // mirrored for the first time
	Updated    int64      `json:"updated"`   // balance or status brought to the main site's
	Unchanged  int64      `json:"unchanged"` // already in the main site's state
	Failed     int64      `json:"failed"`    // could not be mirrored (see Problems)
	Problems   []string   `json:"problems"`
	Error      string     `json:"error,omitempty"` // why a failed refresh stopped
}

// Running reports whether the refresh is still under way.
func (r ExternalWalletRefresh) Running() bool { return r.State == "running" }

// StartExternalWalletRefresh starts a refresh of the server's external
// wallets (admin keys), unless one is running, and returns its progress.
func (c *Client) StartExternalWalletRefresh(ctx context.Context) (ExternalWalletRefresh, error) {
	var out ExternalWalletRefresh
	_, err := c.do(ctx, http.MethodPost, Prefix+"/external-wallet/refresh", nil, struct{}{}, &out)
	return out, err
}

// ExternalWalletRefresh returns the running refresh's progress, or the
// last one's outcome (admin keys).
func (c *Client) ExternalWalletRefresh(ctx context.Context) (ExternalWalletRefresh, error) {
	var out ExternalWalletRefresh
	_, err := c.do(ctx, http.MethodGet, Prefix+"/external-wallet/refresh", nil, nil, &out)
	return out, err
}
