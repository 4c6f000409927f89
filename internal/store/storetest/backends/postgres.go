package backends

import (
	"testing"

	"github.com/coffer-pay/coffer/internal/store"
)

func openPostgres(t *testing.T) store.Store {
	t.Skip("postgres engine not wired yet")
	return nil
}
