package ledger

import (
	"context"
	"fmt"

	"github.com/coffer-pay/coffer/internal/store"
)

// Report is what Verify found.
type Report struct {
	Accounts  int
	Transfers int
	Assets    int
	// Problems lists every broken invariant; empty means the ledger is sound.
	Problems []string
}

// OK reports whether every invariant holds.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

const maxProblems = 1000

func (r *Report) addf(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "… more problems not listed")
	}
}

type acctInfo struct {
	merchant int64
	asset    string
}

type pendInfo struct {
	amount   int64
	state    string
	resolved int
	kind     string // kind of the resolving transfer
	posted   int64
}

// Verify recomputes every balance from the journal and checks the ledger's
// invariants:
//   - every account's four counters equal the sums of its transfers;
//   - for every asset, total debits equal total credits, posted and pending;
//   - no limited account is past its limit;
//   - every transfer has a positive amount, two different accounts of its
//     merchant and asset, and every post or void resolves exactly one
//     pending transfer, consistently with that transfer's state.
func Verify(ctx context.Context, st store.Store) (*Report, error) {
	rep := &Report{}
	sums, err := st.Journal(ctx)
	if err != nil {
		return nil, fmt.Errorf("recompute journal: %w", err)
	}
	bySum := make(map[int64]store.JournalSums, len(sums))
	for _, s := range sums {
		bySum[s.AccountID] = s
	}
	type totals struct{ dp, cp, dq, cq int64 }
	perAsset := map[string]*totals{}
	accts := map[int64]acctInfo{}
	err = st.EachAccount(ctx, func(a store.Account) error {
		rep.Accounts++
		accts[a.ID] = acctInfo{merchant: a.MerchantID, asset: a.Asset}
		s := bySum[a.ID]
		delete(bySum, a.ID)
		if a.DebitsPosted != s.DebitsPosted || a.CreditsPosted != s.CreditsPosted ||
			a.DebitsPending != s.DebitsPending || a.CreditsPending != s.CreditsPending {
			rep.addf("account %d: counters (dp=%d cp=%d dq=%d cq=%d) differ from its journal (dp=%d cp=%d dq=%d cq=%d)",
				a.ID, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending,
				s.DebitsPosted, s.CreditsPosted, s.DebitsPending, s.CreditsPending)
		}
		if a.DebitsPosted < 0 || a.CreditsPosted < 0 || a.DebitsPending < 0 || a.CreditsPending < 0 {
			rep.addf("account %d: a counter is negative", a.ID)
		}
		if !a.Unlimited {
			switch a.Normal {
			case store.Credit:
				if a.DebitsPosted+a.DebitsPending-a.CreditsPosted > a.OverdraftLimit {
					rep.addf("account %d: debits (with holds) exceed credits by more than its overdraft limit %d", a.ID, a.OverdraftLimit)
				}
			case store.Debit:
				if a.CreditsPosted+a.CreditsPending-a.DebitsPosted > a.OverdraftLimit {
					rep.addf("account %d: credits (with holds) exceed debits by more than its limit %d", a.ID, a.OverdraftLimit)
				}
			}
		}
		t := perAsset[a.Asset]
		if t == nil {
			t = &totals{}
			perAsset[a.Asset] = t
		}
		t.dp += a.DebitsPosted
		t.cp += a.CreditsPosted
		t.dq += a.DebitsPending
		t.cq += a.CreditsPending
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	for id := range bySum {
		rep.addf("journal names account %d, which does not exist", id)
	}
	rep.Assets = len(perAsset)
	for asset, t := range perAsset {
		if t.dp != t.cp {
			rep.addf("asset %s: posted debits %d != posted credits %d", asset, t.dp, t.cp)
		}
		if t.dq != t.cq {
			rep.addf("asset %s: pending debits %d != pending credits %d", asset, t.dq, t.cq)
		}
	}

	pend := map[int64]*pendInfo{}
	type resolution struct {
		id, pendingID, amount int64
		kind                  string
	}
	var resolutions []resolution
	err = st.EachTransfer(ctx, func(t store.Transfer) error {
		rep.Transfers++
		if t.Amount <= 0 {
			rep.addf("transfer %d: amount %d is not positive", t.ID, t.Amount)
		}
		if t.DebitAccountID == t.CreditAccountID {
			rep.addf("transfer %d: debits and credits the same account", t.ID)
		}
		for _, id := range []int64{t.DebitAccountID, t.CreditAccountID} {
			a, ok := accts[id]
			switch {
			case !ok:
				rep.addf("transfer %d: account %d does not exist", t.ID, id)
			case a.asset != t.Asset:
				rep.addf("transfer %d: asset %s but account %d holds %s", t.ID, t.Asset, id, a.asset)
			case a.merchant != t.MerchantID:
				rep.addf("transfer %d: account %d belongs to another merchant", t.ID, id)
			}
		}
		switch t.Kind {
		case store.KindPending:
			pend[t.ID] = &pendInfo{amount: t.Amount, state: t.State}
		case store.KindPost, store.KindVoid, store.KindExpire:
			resolutions = append(resolutions, resolution{id: t.ID, pendingID: t.PendingID, amount: t.Amount, kind: t.Kind})
		case store.KindSingle:
		default:
			rep.addf("transfer %d: unknown kind %q", t.ID, t.Kind)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read transfers: %w", err)
	}
	for _, r := range resolutions {
		p := pend[r.pendingID]
		if p == nil {
			rep.addf("transfer %d: resolves %d, which is not a pending transfer", r.id, r.pendingID)
			continue
		}
		p.resolved++
		p.kind = r.kind
		p.posted = r.amount
	}
	want := map[string]string{store.KindPost: store.StatePosted, store.KindVoid: store.StateVoided, store.KindExpire: store.StateExpired}
	for id, p := range pend {
		switch {
		case p.resolved > 1:
			rep.addf("pending transfer %d is resolved %d times", id, p.resolved)
		case p.resolved == 0 && p.state != store.StatePending:
			rep.addf("pending transfer %d is %s but nothing resolved it", id, p.state)
		case p.resolved == 1 && want[p.kind] != p.state:
			rep.addf("pending transfer %d is %s but was resolved by a %s", id, p.state, p.kind)
		case p.resolved == 1 && p.kind == store.KindPost && p.posted > p.amount:
			rep.addf("pending transfer %d: posted %d of %d", id, p.posted, p.amount)
		}
	}
	return rep, nil
}
