package notify

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Message is one attempt of one delivery, for a Format to encode.
type Message struct {
	Event    store.Event
	Delivery store.Delivery
	Endpoint *store.WebhookEndpoint // native webhooks only
	At       time.Time              // when the attempt is made
}

// Request is an encoded attempt. The dispatcher POSTs Body with Header to
// the delivery's URL.
type Request struct {
	Header http.Header
	Body   []byte
	// LogBody, when not nil, is what the delivery log keeps instead of
	// Body, because Body carries a secret.
	LogBody []byte
}

// Format encodes the deliveries of one format (store.Format*) and judges
// the receiver's answers. A Format may also implement Scheduler.
type Format interface {
	Encode(ctx context.Context, m Message) (Request, error)
	// Accepted reports whether an HTTP answer means the receiver took the
	// event. body holds at most the first MaxResponseBody bytes.
	Accepted(status int, body []byte) bool
}

// Scheduler is implemented by a Format with its own retry schedule.
type Scheduler interface {
	Schedule() Schedule
}

// permanent marks an encoding error that no retry can fix (the delivery's
// data is malformed): the delivery fails at once.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that the dispatcher gives the delivery up instead
// of retrying it.
func Permanent(err error) error { return permanent{err} }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
