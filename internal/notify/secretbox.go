package notify

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretBox seals webhook signing secrets at rest (seal.Sealer is one).
// Without a box, secrets are stored as they are.
type SecretBox interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// sealedPrefix marks a stored secret that a SecretBox sealed; a stored
// secret without it is the whsec_ text itself (no box configured).
const sealedPrefix = "sealed:"

func secretAD(merchantID int64) []byte {
	return []byte("webhook-secret:" + strconv.FormatInt(merchantID, 10))
}

// sealSecret returns the stored form of a secret.
func sealSecret(box SecretBox, merchantID int64, secret string) string {
	if box == nil || secret == "" {
		return secret
	}
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(box.Seal([]byte(secret), secretAD(merchantID)))
}

var errSealedNoBox = errors.New("the webhook secret is sealed but no master key is configured")

// openSecret returns a stored secret's text.
func openSecret(box SecretBox, merchantID int64, stored string) (string, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if box == nil {
		return "", errSealedNoBox
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return "", err
	}
	plain, err := box.Open(raw, secretAD(merchantID))
	return string(plain), err
}
