package backends

import (
	"testing"

	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
)

func openPostgres(t *testing.T) store.Store { return postgres.OpenTest(t) }
