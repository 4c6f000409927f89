package notify

import (
	"fmt"
	"strings"
)

// Event-type filters of a webhook endpoint: an exact type ("order.paid"), a
// prefix ending in ".*" ("order.*" matches "order.paid" and
// "order.refund.created"), or "*" for every event.

const (
	maxFilters   = 50
	maxFilterLen = 100
)

// matches reports whether any filter matches the event type.
func matches(filters []string, typ string) bool {
	for _, f := range filters {
		switch {
		case f == "*" || f == typ:
			return true
		case strings.HasSuffix(f, ".*") && strings.HasPrefix(typ, f[:len(f)-1]):
			return true
		}
	}
	return false
}

// checkFilters validates a list of filters.
func checkFilters(filters []string) error {
	if len(filters) == 0 {
		return fmt.Errorf(`give at least one event type, such as "transfer.*", "order.paid" or "*"`)
	}
	if len(filters) > maxFilters {
		return fmt.Errorf("at most %d event types", maxFilters)
	}
	for _, f := range filters {
		if f == "*" {
			continue
		}
		base := strings.TrimSuffix(f, ".*")
		ok := len(f) <= maxFilterLen && base != "" && !strings.HasPrefix(base, ".") && !strings.HasSuffix(base, ".") && !strings.Contains(base, "..")
		for _, c := range base {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
				ok = false
			}
		}
		if !ok {
			return fmt.Errorf(`event type %q is not valid: use lowercase names such as "order.paid", a prefix such as "order.*", or "*"`, f)
		}
	}
	return nil
}
