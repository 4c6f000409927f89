package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

type createAssetInput struct {
	Code  string `json:"code"`
	Scale *int   `json:"scale"`
}

// createAsset defines a custom asset (POST /coffer/v1/assets). Assets are
// shared by every merchant, so only admin keys may define them; ISO 4217
// currencies need no definition.
func (h *handler) createAsset(w http.ResponseWriter, r *http.Request, key store.APIKey) error {
	if key.Role != apikey.RoleAdmin {
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "only an admin key may define assets"}
	}
	var in createAssetInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.Code == "" {
		return invalidField("code", "code is required: 1-16 characters A-Z, 0-9, '_' or '.', starting with a letter")
	}
	if in.Scale == nil {
		return invalidField("scale", "scale is required: the number of decimals, 0 to 18")
	}
	a, err := h.engine.DefineAsset(r.Context(), in.Code, *in.Scale)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toAsset(a))
	return nil
}

// listAssets lists every asset (GET /coffer/v1/assets).
func (h *handler) listAssets(w http.ResponseWriter, r *http.Request, _ store.APIKey) error {
	as, err := h.st.Assets(r.Context())
	if err != nil {
		return err
	}
	out := listJSON[assetJSON]{Data: make([]assetJSON, 0, len(as))}
	for _, a := range as {
		out.Data = append(out.Data, toAsset(a))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// scale returns an asset's code and scale. An unknown asset is a 404
// asset_not_found naming field.
func (h *handler) scale(ctx context.Context, code, field string) (assetScale, error) {
	if code == "" {
		return assetScale{}, invalidField(field, field+" is required: an asset code such as USD or PTS")
	}
	if !money.ValidAssetCode(code) {
		return assetScale{}, invalidField(field, fmt.Sprintf("%s %q is not an asset code: 1-16 characters A-Z, 0-9, '_' or '.', starting with a letter", field, code))
	}
	a, err := h.engine.Asset(ctx, code)
	if err != nil {
		if ae := classify(err); ae.Code == "asset_not_found" {
			withField := *ae
			withField.Field = field
			return assetScale{}, &withField
		}
		return assetScale{}, err
	}
	return assetScale{Code: a.Code, Scale: a.Scale}, nil
}
