package order

import (
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
)

// change is what can happen to an order. apply is the only function that
// changes an order's status or amounts; docs/orders.md draws its table.
type change struct {
	kind   changeKind
	amount int64 // pay, refund: minor units of the price currency
	strict bool  // pay: refuse money the order cannot count (see Pay)
}

type changeKind int

const (
	changePay changeKind = iota
	changeExpire
	changeCancel
	changeRefund
)

// open reports whether an order still takes payments towards its price.
func open(status string) bool { return status == store.OrderNew || status == store.OrderPending }

// apply moves o through the state machine:
//
//	           pay (partial)      pay (due reaches 0)
//	NEW ──────────────────► PENDING ─────────────────► PAID ──refund (full)──► REFUNDED
//	 │ └───────────── pay (due reaches 0) ─────────────►│
//	 │                        │                          └─ refund (partial): stays PAID
//	 ├─ expire / cancel ──────┴─ expire / cancel ──► EXPIRED / CANCELLED
//
// Money paid into an order that no longer takes payments (PAID, EXPIRED,
// CANCELLED, REFUNDED), and the part of a payment above the amount due, is
// counted in Overpaid (the operator refunds it or credits it to the
// customer's wallet) — unless the change is strict, when it is refused.
// An open order past its expiry is expired first, whatever the change.
func apply(o *store.Order, c change, now time.Time) error {
	if open(o.Status) && !now.Before(o.ExpiresAt) && c.kind != changeExpire {
		o.Status = store.OrderExpired
		o.UpdatedAt = now
	}
	switch c.kind {
	case changePay:
		if c.amount <= 0 {
			return ledger.ErrInvalidAmount
		}
		if !open(o.Status) {
			if c.strict {
				return notPayable(o.Status)
			}
			o.Overpaid += c.amount
			break
		}
		counted := c.amount
		if counted > o.AmountDue {
			if c.strict {
				return ErrAmountTooBig
			}
			counted = o.AmountDue
		}
		o.AmountPaid += counted
		o.AmountDue -= counted
		o.Overpaid += c.amount - counted
		if o.AmountDue == 0 {
			o.Status = store.OrderPaid
			o.PaidAt = &now
		} else {
			o.Status = store.OrderPending
		}
	case changeExpire:
		if !open(o.Status) {
			return notOpen(o.Status)
		}
		if now.Before(o.ExpiresAt) {
			return ErrNotDue
		}
		o.Status = store.OrderExpired
	case changeCancel:
		if !open(o.Status) {
			return notOpen(o.Status)
		}
		o.Status = store.OrderCancelled
	case changeRefund:
		if o.Status != store.OrderPaid {
			return ErrNotRefundable
		}
		if c.amount <= 0 || c.amount > o.AmountPaid-o.Refunded {
			return ErrRefundTooBig
		}
		o.Refunded += c.amount
		if o.Refunded == o.AmountPaid {
			o.Status = store.OrderRefunded
		}
	}
	o.UpdatedAt = now
	return nil
}

func notPayable(status string) error {
	switch status {
	case store.OrderPaid, store.OrderRefunded:
		return ErrAlreadyPaid
	case store.OrderExpired:
		return ErrExpired
	}
	return ErrCancelled
}

func notOpen(status string) error {
	if status == store.OrderExpired {
		return ErrExpired
	}
	if status == store.OrderCancelled {
		return ErrCancelled
	}
	return ErrAlreadyPaid
}
