package client

import (
	"context"
	"net/http"
	"net/url"
)

// CreateAsset defines a custom asset (admin keys only). Defining the same
// asset again is not an error.
func (c *Client) CreateAsset(ctx context.Context, r CreateAssetRequest) (Asset, error) {
	var a Asset
	_, err := c.do(ctx, http.MethodPost, Prefix+"/assets", nil, r, &a)
	return a, err
}

// ListAssets lists every asset.
func (c *Client) ListAssets(ctx context.Context) ([]Asset, error) {
	var out struct {
		Data []Asset `json:"data"`
	}
	_, err := c.do(ctx, http.MethodGet, Prefix+"/assets", nil, nil, &out)
	return out.Data, err
}

// CreateAccount opens an account.
func (c *Client) CreateAccount(ctx context.Context, r CreateAccountRequest) (Account, error) {
	var a Account
	ans, err := c.do(ctx, http.MethodPost, Prefix+"/accounts", nil, r, &a)
	a.Replayed = ans.replayed
	return a, err
}

// GetAccount reads an account with its balances.
func (c *Client) GetAccount(ctx context.Context, id int64) (Account, error) {
	var a Account
	_, err := c.do(ctx, http.MethodGet, Prefix+"/accounts/"+itoa(id), nil, nil, &a)
	return a, err
}

// ListAccounts lists the merchant's accounts in id order, one page at a time.
func (c *Client) ListAccounts(ctx context.Context, p ListAccountsParams) (AccountPage, error) {
	q := pageQuery(p.Cursor, p.Limit)
	if p.Asset != "" {
		q.Set("asset", p.Asset)
	}
	var out AccountPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/accounts", q, nil, &out)
	return out, err
}

// ListAccountTransfers lists the transfers that debit or credit an account
// (its statement), oldest first.
func (c *Client) ListAccountTransfers(ctx context.Context, accountID int64, p ListParams) (TransferPage, error) {
	var out TransferPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/accounts/"+itoa(accountID)+"/transfers", pageQuery(p.Cursor, p.Limit), nil, &out)
	return out, err
}

// CreateTransfer applies one transfer. Retrying with the same Key is safe:
// the retry returns the first outcome (with Replayed set) and moves no money.
func (c *Client) CreateTransfer(ctx context.Context, r TransferRequest) (Transfer, error) {
	return c.transfer(ctx, Prefix+"/transfers", &r)
}

// CreateTransfers applies a batch and returns one result per transfer. The
// error is set only when the batch as a whole was refused.
func (c *Client) CreateTransfers(ctx context.Context, r BatchRequest) ([]BatchResult, error) {
	out := fullResults{hint: len(r.Transfers)}
	_, err := c.do(ctx, http.MethodPost, Prefix+"/transfers/batch", nil, &r, &out)
	return out.Results, err
}

// CreateTransfersMinimal is CreateTransfers for callers that need only to
// know what became of each transfer: it asks the server for minimal
// results (Prefer: return=minimal) and returns each transfer's id, error
// and replayed flag instead of the whole transfer. That makes large
// batches much cheaper for the server, the network and the caller. It
// works with servers that ignore the preference too.
func (c *Client) CreateTransfersMinimal(ctx context.Context, r BatchRequest) ([]BatchOutcome, error) {
	out := leanResults{hint: len(r.Transfers)}
	_, err := c.send(ctx, http.MethodPost, Prefix+"/transfers/batch", nil, &r, &out, true)
	return out.out, err
}

// GetTransfer reads a transfer by id.
func (c *Client) GetTransfer(ctx context.Context, id int64) (Transfer, error) {
	var t Transfer
	_, err := c.do(ctx, http.MethodGet, Prefix+"/transfers/"+itoa(id), nil, nil, &t)
	return t, err
}

// LookupTransfer returns the outcome of an idempotency key. A key that was
// never processed is an *Error with Code "key_not_found": retrying the
// request with that key is then safe.
func (c *Client) LookupTransfer(ctx context.Context, key string) (Outcome, error) {
	var o Outcome
	_, err := c.do(ctx, http.MethodGet, Prefix+"/transfers", url.Values{"key": {key}}, nil, &o)
	return o, err
}

// PostTransfer posts a pending transfer, all of it or Amount of it.
func (c *Client) PostTransfer(ctx context.Context, pendingID int64, r PostRequest) (Transfer, error) {
	return c.transfer(ctx, Prefix+"/transfers/"+itoa(pendingID)+"/post", r)
}

// VoidTransfer voids a pending transfer, releasing its hold.
func (c *Client) VoidTransfer(ctx context.Context, pendingID int64, r VoidRequest) (Transfer, error) {
	return c.transfer(ctx, Prefix+"/transfers/"+itoa(pendingID)+"/void", r)
}

func (c *Client) transfer(ctx context.Context, path string, body any) (Transfer, error) {
	var t Transfer
	ans, err := c.do(ctx, http.MethodPost, path, nil, body, &t)
	t.Replayed = ans.replayed
	return t, err
}

// OpenAPI returns the server's OpenAPI 3.1 document.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var raw rawJSON
	_, err := c.do(ctx, http.MethodGet, Prefix+"/openapi.json", nil, nil, &raw)
	return raw, err
}

// rawJSON keeps an answer's bytes as they came.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}
