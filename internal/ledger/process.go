package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// batch is the in-memory state of one transaction: the locked rows it read,
// and what it will write.
type batch struct {
	e     *Engine
	tx    store.Tx
	now   int64 // engine time, for comparing timeouts
	accts map[int64]*store.Account
	dirty map[int64]bool
	pend  map[int64]*store.Transfer
	orig  map[int64]string // state of each pending row as read

	newT []store.Transfer
	// fill records results (and key records) whose transfer id is known only
	// after the batch's ids are reserved: they point into newT.
	fill    []fillRef
	keys    []store.KeyRecord
	keyFill []int // index into newT per key record, -1 for failures

	// seen maps each key handled so far in this batch to its outcome, so a
	// key repeated within a batch replays like a key from an earlier batch.
	seen    map[store.MerchantKey]outcome
	seenLog []store.MerchantKey // keys added to seen, in order, for rollback
	// loaded marks rows of newT read from the database for replays: they
	// are never written again.
	loaded map[int]bool

	events []store.Event

	// Rows loaded and accounts dirtied, in order, so that an operation that
	// fails can forget what it loaded: after ROLLBACK TO SAVEPOINT its row
	// locks are gone and the accounts it opened do not exist.
	acctLog, pendLog, dirtyLog []int64

	undo []undoEntry
}

// mark is a point in the batch that an operation can roll back to.
type mark struct {
	newT, fill, keys, seen, undo, events, accts, pends, dirty int
}

func (b *batch) mark() mark {
	return mark{len(b.newT), len(b.fill), len(b.keys), len(b.seenLog), len(b.undo), len(b.events),
		len(b.acctLog), len(b.pendLog), len(b.dirtyLog)}
}

// rollback undoes everything applied since m, in memory.
func (b *batch) rollback(m mark) {
	for k := len(b.undo) - 1; k >= m.undo; k-- {
		u := b.undo[k]
		if u.acct != nil {
			*u.acct = u.saved
		} else {
			u.pend.State = u.state
		}
	}
	b.undo = b.undo[:m.undo]
	for _, k := range b.seenLog[m.seen:] {
		delete(b.seen, k)
	}
	b.seenLog = b.seenLog[:m.seen]
	for i := m.newT; i < len(b.newT); i++ {
		delete(b.loaded, i)
	}
	b.newT = b.newT[:m.newT]
	b.fill = b.fill[:m.fill]
	b.keys = b.keys[:m.keys]
	b.keyFill = b.keyFill[:m.keys]
	b.events = b.events[:m.events]
	for _, id := range b.dirtyLog[m.dirty:] {
		delete(b.dirty, id)
	}
	b.dirtyLog = b.dirtyLog[:m.dirty]
}

// forget drops the rows loaded since m (after the operation that loaded
// them was rolled back to its savepoint).
func (b *batch) forget(m mark) {
	for _, id := range b.acctLog[m.accts:] {
		delete(b.accts, id)
	}
	b.acctLog = b.acctLog[:m.accts]
	for _, id := range b.pendLog[m.pends:] {
		delete(b.pend, id)
		delete(b.orig, id)
	}
	b.pendLog = b.pendLog[:m.pends]
}

func (b *batch) setSeen(k store.MerchantKey, o outcome) {
	b.seen[k] = o
	b.seenLog = append(b.seenLog, k)
}

type fillRef struct {
	res *Result
	idx int
}

type outcome struct {
	req   *TransferRequest
	tIdx  int // index into newT on success, -1 on failure
	err   *Error
	canon []byte
}

type undoEntry struct {
	acct  *store.Account
	saved store.Account
	pend  *store.Transfer
	state string
}

func (e *Engine) process(ctx context.Context, jobs []*job) (err error) {
	tx, err := e.st.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, j := range jobs {
		j.results, j.err, j.replayed = nil, nil, false
	}
	for _, j := range jobs {
		if j.account != nil {
			if err := e.openAccount(ctx, tx, j); err != nil {
				return err
			}
		}
	}
	b := &batch{
		e:      e,
		tx:     tx,
		now:    e.opt.Now().UnixMicro(),
		accts:  map[int64]*store.Account{},
		dirty:  map[int64]bool{},
		pend:   map[int64]*store.Transfer{},
		orig:   map[int64]string{},
		seen:   map[store.MerchantKey]outcome{},
		loaded: map[int]bool{},
	}
	if err := b.load(ctx, jobs); err != nil {
		return err
	}
	b.expireDue()
	for _, j := range jobs {
		if len(j.transfers) > 0 {
			b.applyJob(j)
		}
	}
	for _, j := range jobs {
		if j.op != nil {
			if err := b.runOp(ctx, j); err != nil {
				return err
			}
		}
	}
	if err := b.write(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// load reads everything the batch's transfer jobs need: existing key
// records and their transfers, then locks pending transfers and accounts in
// id order.
func (b *batch) load(ctx context.Context, jobs []*job) error {
	var keys []store.MerchantKey
	var pendIDs, acctIDs []int64
	for _, j := range jobs {
		pendIDs = append(pendIDs, j.expire...)
		for i := range j.transfers {
			r := &j.transfers[i]
			keys = append(keys, store.MerchantKey{MerchantID: j.merchantID, Key: r.Key})
			if id := r.pendingID(); id != 0 {
				pendIDs = append(pendIDs, id)
			} else {
				acctIDs = append(acctIDs, r.DebitAccountID, r.CreditAccountID)
			}
		}
	}
	return b.loadRows(ctx, keys, pendIDs, acctIDs)
}

// loadRows reads the outcomes of keys not seen yet, then locks the pending
// transfers and accounts not loaded yet.
func (b *batch) loadRows(ctx context.Context, keys []store.MerchantKey, pendIDs, acctIDs []int64) error {
	tx := b.tx
	keys = slices.DeleteFunc(dedupeKeys(keys), func(k store.MerchantKey) bool { _, ok := b.seen[k]; return ok })
	if len(keys) > 0 {
		recs, err := tx.LookupKeys(ctx, keys)
		if err != nil {
			return err
		}
		var ids []int64
		for _, r := range recs {
			if r.TransferID != 0 {
				ids = append(ids, r.TransferID)
			}
		}
		byID := map[int64]store.Transfer{}
		if len(ids) > 0 {
			ts, err := tx.TransfersByIDs(ctx, ids)
			if err != nil {
				return err
			}
			for _, t := range ts {
				byID[t.ID] = t
			}
		}
		for _, r := range recs {
			o := outcome{tIdx: -1}
			if r.TransferID != 0 {
				t, ok := byID[r.TransferID]
				if !ok {
					return fmt.Errorf("idempotency key %q names missing transfer %d", r.Key, r.TransferID)
				}
				b.newT = append(b.newT, t)
				o.tIdx = len(b.newT) - 1
				b.loaded[o.tIdx] = true
			} else {
				o.err = &Error{Kind: kindOfCode(r.Code), Code: r.Code, Message: r.Message}
				o.canon = r.Request
			}
			b.setSeen(store.MerchantKey{MerchantID: r.MerchantID, Key: r.Key}, o)
		}
	}
	pendIDs = slices.DeleteFunc(sortedUnique(pendIDs), func(id int64) bool { _, ok := b.pend[id]; return ok })
	if len(pendIDs) > 0 {
		ps, err := tx.LockPending(ctx, pendIDs)
		if err != nil {
			return err
		}
		for i := range ps {
			p := ps[i]
			b.pend[p.ID] = &p
			b.orig[p.ID] = p.State
			b.pendLog = append(b.pendLog, p.ID)
			acctIDs = append(acctIDs, p.DebitAccountID, p.CreditAccountID)
		}
	}
	acctIDs = slices.DeleteFunc(sortedUnique(acctIDs), func(id int64) bool { return id == 0 || b.accts[id] != nil })
	if len(acctIDs) > 0 {
		as, err := tx.LockAccounts(ctx, acctIDs)
		if err != nil {
			return err
		}
		for i := range as {
			a := as[i]
			b.accts[a.ID] = &a
			b.acctLog = append(b.acctLog, a.ID)
		}
	}
	return nil
}

// expireDue voids every loaded pending transfer whose timeout has passed,
// before any request sees it.
func (b *batch) expireDue() {
	for _, id := range sortedKeys(b.pend) {
		p := b.pend[id]
		if p.State == store.StatePending && p.TimeoutAt != nil && p.TimeoutAt.UnixMicro() <= b.now {
			if err := b.release(p, store.StateExpired); err == nil {
				b.newT = append(b.newT, store.Transfer{
					MerchantID: p.MerchantID, Kind: store.KindExpire,
					DebitAccountID: p.DebitAccountID, CreditAccountID: p.CreditAccountID,
					Asset: p.Asset, Amount: p.Amount, PendingID: p.ID, State: store.StateExpired,
				})
			}
		}
	}
}

func (b *batch) applyJob(j *job) {
	j.results = make([]Result, len(j.transfers))
	for start := 0; start < len(j.transfers); {
		end := start
		for end < len(j.transfers)-1 && j.transfers[end].Linked {
			end++
		}
		b.applyChain(j.merchantID, j.transfers[start:end+1], j.results[start:end+1])
		start = end + 1
	}
}

// applyChain applies one transfer or one linked chain, all or nothing.
func (b *batch) applyChain(merchantID int64, reqs []TransferRequest, res []Result) {
	// A chain whose keys were seen before is replayed, never re-applied.
	anySeen := false
	for i := range reqs {
		if _, ok := b.seen[store.MerchantKey{MerchantID: merchantID, Key: reqs[i].Key}]; ok {
			anySeen = true
			break
		}
	}
	if anySeen {
		for i := range reqs {
			b.replay(merchantID, &reqs[i], &res[i])
		}
		return
	}
	m := b.mark()
	nT := len(b.newT)
	failAt := -1
	var failErr *Error
	for i := range reqs {
		if err := b.apply(merchantID, &reqs[i]); err != nil {
			failAt, failErr = i, err
			break
		}
		b.fill = append(b.fill, fillRef{res: &res[i], idx: len(b.newT) - 1})
	}
	if failAt >= 0 {
		b.rollback(m)
	}
	for i := range reqs {
		r := &reqs[i]
		mk := store.MerchantKey{MerchantID: merchantID, Key: r.Key}
		if failAt < 0 {
			idx := nT + i
			b.setSeen(mk, outcome{req: r, tIdx: idx})
			b.keys = append(b.keys, store.KeyRecord{MerchantID: merchantID, Key: r.Key})
			b.keyFill = append(b.keyFill, idx)
			continue
		}
		err := ErrLinkedFailed
		if i == failAt {
			err = failErr
		}
		res[i].Err = err
		if failErr.Kind == KindInternal {
			// Not the request's fault: keep no outcome, so a retry runs again.
			continue
		}
		c, _ := json.Marshal(canonOf(r))
		b.setSeen(mk, outcome{req: r, tIdx: -1, err: err, canon: c})
		b.keys = append(b.keys, store.KeyRecord{MerchantID: merchantID, Key: r.Key, Request: c, Code: err.Code, Message: err.Message})
		b.keyFill = append(b.keyFill, -1)
	}
}

// replay answers a request whose key already has an outcome.
func (b *batch) replay(merchantID int64, r *TransferRequest, res *Result) {
	o, ok := b.seen[store.MerchantKey{MerchantID: merchantID, Key: r.Key}]
	if !ok {
		res.Err = withMsg(ErrIdempotency, "this transfer is linked to transfers whose keys were already used; retry the whole chain with its original keys")
		return
	}
	var field string
	if o.tIdx >= 0 {
		field = diffTransfer(&b.newT[o.tIdx], r)
	} else if o.canon != nil {
		field = diffFailed(o.canon, r)
	}
	if field != "" {
		e := withMsg(ErrIdempotency, "idempotency key %q was used with a different %s", r.Key, field)
		e.Field = field
		res.Err = e
		return
	}
	res.Replayed = true
	if o.tIdx >= 0 {
		b.fill = append(b.fill, fillRef{res: res, idx: o.tIdx})
	} else {
		res.Err = o.err
	}
}

func (b *batch) account(merchantID, id int64) (*store.Account, *Error) {
	a := b.accts[id]
	if a == nil || a.MerchantID != merchantID {
		return nil, withMsg(ErrAccountNotFound, "account %d not found", id)
	}
	return a, nil
}

func (b *batch) save(a *store.Account) {
	b.undo = append(b.undo, undoEntry{acct: a, saved: *a})
	if !b.dirty[a.ID] {
		b.dirty[a.ID] = true
		b.dirtyLog = append(b.dirtyLog, a.ID)
	}
}

// apply applies one new request, appending the transfer it creates.
func (b *batch) apply(merchantID int64, r *TransferRequest) *Error {
	switch r.kind() {
	case store.KindPost, store.KindVoid:
		return b.resolve(merchantID, r)
	}
	d, err := b.account(merchantID, r.DebitAccountID)
	if err != nil {
		return err
	}
	c, err := b.account(merchantID, r.CreditAccountID)
	if err != nil {
		return err
	}
	if d.Asset != c.Asset || (r.Asset != "" && r.Asset != d.Asset) {
		return withMsg(ErrAssetMismatch, "asset mismatch: debit account is %s, credit account is %s, transfer is %s", d.Asset, c.Asset, orDefault(r.Asset, d.Asset))
	}
	amt := r.Amount
	// Limits count holds: a debit to a credit-normal account must stay
	// within credits + overdraft, including what is pending.
	if d.Normal == store.Credit && !d.Unlimited {
		used, e1 := money.Add(d.DebitsPosted, d.DebitsPending)
		used, e2 := money.Add(used, amt)
		if e1 != nil || e2 != nil {
			return ErrOverflow
		}
		if used-d.CreditsPosted > d.OverdraftLimit {
			return withMsg(ErrInsufficientFunds, "account %d has insufficient funds", d.ID)
		}
	}
	if c.Normal == store.Debit && !c.Unlimited {
		used, e1 := money.Add(c.CreditsPosted, c.CreditsPending)
		used, e2 := money.Add(used, amt)
		if e1 != nil || e2 != nil {
			return ErrOverflow
		}
		if used-c.DebitsPosted > c.OverdraftLimit {
			return withMsg(ErrExceedsCredits, "account %d would exceed its limit", c.ID)
		}
	}
	b.save(d)
	b.save(c)
	pending := r.Pending
	var e1, e2 error
	if pending {
		d.DebitsPending, e1 = money.Add(d.DebitsPending, amt)
		c.CreditsPending, e2 = money.Add(c.CreditsPending, amt)
	} else {
		d.DebitsPosted, e1 = money.Add(d.DebitsPosted, amt)
		c.CreditsPosted, e2 = money.Add(c.CreditsPosted, amt)
	}
	if e1 != nil || e2 != nil {
		return ErrOverflow
	}
	t := store.Transfer{
		MerchantID: merchantID, Key: r.Key, Kind: r.kind(),
		DebitAccountID: d.ID, CreditAccountID: c.ID, Asset: d.Asset, Amount: amt,
		State: store.StatePosted, Metadata: r.Metadata,
	}
	if pending {
		t.State = store.StatePending
		if r.Timeout > 0 {
			at := b.e.opt.Now().Add(r.Timeout).UTC()
			t.TimeoutAt = &at
		}
	}
	b.newT = append(b.newT, t)
	return nil
}

// resolve posts or voids a pending transfer.
func (b *batch) resolve(merchantID int64, r *TransferRequest) *Error {
	id := r.pendingID()
	p := b.pend[id]
	if p == nil || p.MerchantID != merchantID {
		return withMsg(ErrPendingNotFound, "pending transfer %d not found", id)
	}
	switch p.State {
	case store.StatePosted:
		return ErrPendingPosted
	case store.StateVoided:
		return ErrPendingVoided
	case store.StateExpired:
		return ErrPendingExpired
	}
	amt := r.Amount
	kind := r.kind()
	state := store.StatePosted
	if kind == store.KindPost {
		if amt == 0 {
			amt = p.Amount
		}
		if amt > p.Amount {
			return withMsg(ErrPostExceedsPending, "cannot post %d: the pending transfer holds %d", amt, p.Amount)
		}
	} else {
		amt, state = p.Amount, store.StateVoided
	}
	if err := b.release(p, state); err != nil {
		return err
	}
	if kind == store.KindPost {
		d, c := b.accts[p.DebitAccountID], b.accts[p.CreditAccountID]
		var e1, e2 error
		d.DebitsPosted, e1 = money.Add(d.DebitsPosted, amt)
		c.CreditsPosted, e2 = money.Add(c.CreditsPosted, amt)
		if e1 != nil || e2 != nil {
			return ErrOverflow
		}
	}
	b.newT = append(b.newT, store.Transfer{
		MerchantID: merchantID, Key: r.Key, Kind: kind,
		DebitAccountID: p.DebitAccountID, CreditAccountID: p.CreditAccountID,
		Asset: p.Asset, Amount: amt, PendingID: p.ID, State: state, Metadata: r.Metadata,
	})
	return nil
}

// release removes a pending transfer's hold and moves it to state.
func (b *batch) release(p *store.Transfer, state string) *Error {
	d, c := b.accts[p.DebitAccountID], b.accts[p.CreditAccountID]
	if d == nil || c == nil {
		return ErrInternal
	}
	b.save(d)
	b.save(c)
	b.undo = append(b.undo, undoEntry{pend: p, state: p.State})
	d.DebitsPending -= p.Amount
	c.CreditsPending -= p.Amount
	p.State = state
	return nil
}

// write reserves ids and writes the batch's rows.
func (b *batch) write(ctx context.Context, tx store.Tx) error {
	// Rows loaded for replays are never written again; operations gave
	// their rows ids already.
	if err := b.assignIDs(ctx, 0); err != nil {
		return err
	}
	rows := make([]store.Transfer, 0, len(b.newT)-len(b.loaded))
	for i := range b.newT {
		if !b.loaded[i] {
			rows = append(rows, b.newT[i])
		}
	}
	if len(rows) > 0 {
		if err := tx.InsertTransfers(ctx, rows); err != nil {
			return err
		}
	}
	if hook := b.e.opt.TransferEvent; hook != nil {
		for i := range rows {
			if ev, ok := hook(&rows[i]); ok {
				b.events = append(b.events, ev)
			}
		}
	}
	for _, f := range b.fill {
		f.res.Transfer = b.newT[f.idx]
	}
	if len(b.keys) > 0 {
		now := b.e.opt.Now().UTC()
		for k := range b.keys {
			if i := b.keyFill[k]; i >= 0 {
				b.keys[k].TransferID = b.newT[i].ID
			}
			b.keys[k].CreatedAt = now
		}
		if err := tx.InsertKeys(ctx, b.keys); err != nil {
			return err
		}
	}
	var changes []store.StateChange
	for _, id := range sortedKeys(b.pend) {
		if p := b.pend[id]; p.State != b.orig[id] {
			changes = append(changes, store.StateChange{ID: id, State: p.State})
		}
	}
	if len(changes) > 0 {
		if err := tx.SetStates(ctx, changes); err != nil {
			return err
		}
	}
	if len(b.events) > 0 {
		if err := tx.InsertEvents(ctx, b.events); err != nil {
			return err
		}
	}
	if len(b.dirty) > 0 {
		as := make([]store.Account, 0, len(b.dirty))
		for _, id := range sortedKeys(b.dirty) {
			as = append(as, *b.accts[id])
		}
		if err := tx.UpdateBalances(ctx, as); err != nil {
			return err
		}
	}
	return nil
}

// assignIDs gives ids and creation times to the rows of newT from index
// from on that have none.
func (b *batch) assignIDs(ctx context.Context, from int) error {
	var need []int
	for i := from; i < len(b.newT); i++ {
		if b.newT[i].ID == 0 {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	ids, err := b.tx.NextTransferIDs(ctx, len(need))
	if err != nil {
		return err
	}
	now := b.e.opt.Now()
	for k, i := range need {
		b.newT[i].ID = ids[k]
		b.newT[i].CreatedAt = now
	}
	return nil
}

// openAccount runs an account job inside the batch transaction.
func (e *Engine) openAccount(ctx context.Context, tx store.Tx, j *job) error {
	r := j.account
	a, replayed, err := e.insertAccount(ctx, tx, j.merchantID, r)
	if err != nil {
		var le *Error
		if errors.As(err, &le) {
			j.err = le
			return nil
		}
		return err
	}
	j.acct, j.replayed = a, replayed
	return nil
}

// insertAccount opens an account in tx, or returns the one its key opened.
func (e *Engine) insertAccount(ctx context.Context, tx store.Tx, merchantID int64, r *AccountRequest) (store.Account, bool, error) {
	if r.Key != "" {
		got, err := tx.AccountsByKeys(ctx, []store.MerchantKey{{MerchantID: merchantID, Key: r.Key}})
		if err != nil {
			return store.Account{}, false, err
		}
		if len(got) > 0 {
			a := got[0]
			if f := diffAccount(&a, r); f != "" {
				e := withMsg(ErrIdempotency, "idempotency key %q was used with a different %s", r.Key, f)
				e.Field = f
				return store.Account{}, false, e
			}
			return a, true, nil
		}
	}
	a := store.Account{
		MerchantID: merchantID, Asset: r.Asset, Name: r.Name, Normal: r.Normal,
		OverdraftLimit: r.OverdraftLimit, Unlimited: r.Unlimited, Key: r.Key,
		Metadata: r.Metadata, CreatedAt: e.opt.Now(),
	}
	if err := tx.InsertAccount(ctx, &a); err != nil {
		return store.Account{}, false, err
	}
	return a, false, nil
}

func diffAccount(a *store.Account, r *AccountRequest) string {
	switch {
	case a.Asset != r.Asset:
		return "asset"
	case a.Normal != r.Normal:
		return "normal"
	case a.OverdraftLimit != r.OverdraftLimit:
		return "overdraft_limit"
	case a.Unlimited != r.Unlimited:
		return "unlimited"
	case a.Name != r.Name:
		return "name"
	case !sameJSON(a.Metadata, r.Metadata):
		return "metadata"
	}
	return ""
}

func dedupeKeys(keys []store.MerchantKey) []store.MerchantKey {
	seen := make(map[store.MerchantKey]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func sortedUnique(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

var codeKinds = func() map[string]Kind {
	m := map[string]Kind{}
	for _, e := range []*Error{ErrInsufficientFunds, ErrExceedsCredits, ErrAccountNotFound, ErrAssetMismatch,
		ErrSameAccount, ErrInvalidAmount, ErrOverflow, ErrPendingNotFound, ErrNotPending, ErrPendingPosted,
		ErrPendingVoided, ErrPendingExpired, ErrPostExceedsPending, ErrLinkedFailed, ErrIdempotency} {
		m[e.Code] = e.Kind
	}
	return m
}()

func kindOfCode(code string) Kind {
	if k, ok := codeKinds[code]; ok {
		return k
	}
	return KindInvalid
}

var _ = errors.New
