package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffer-pay/coffer/internal/store"
)

// Tx is a store.Tx: a READ COMMITTED transaction on one pooled connection.
// Each batch write is one statement (a COPY, or an UPDATE over unnest-ed
// arrays), so that a batch of thousands of rows costs one round trip.
type Tx struct {
	s  *Store
	tx pgx.Tx
	// queued holds the batch's final writes (transfers, keys, states,
	// balances, events) so that they travel to the server in one round
	// trip: it is sent before the next read and at Commit.
	queued *pgx.Batch
	// ctx is the context Begin was given. Commit and Rollback use it, so
	// that a commit on a hung connection ends with the batch's deadline
	// instead of blocking for ever (the batch's callers then learn the
	// outcome by looking their keys up).
	ctx context.Context
}

var _ store.Tx = (*Tx)(nil)

// copyThreshold is the row count from which COPY beats a queued INSERT
// over unnest-ed arrays (which saves a round trip instead).
const copyThreshold = 500

func (t *Tx) queue(sql string, args ...any) *pgx.QueuedQuery {
	if t.queued == nil {
		t.queued = &pgx.Batch{}
	}
	return t.queued.Queue(sql, args...)
}

// flush sends the queued writes, if any.
func (t *Tx) flush(ctx context.Context) error {
	if t.queued == nil || t.queued.Len() == 0 {
		return nil
	}
	b := t.queued
	t.queued = nil
	return t.tx.SendBatch(ctx, b).Close()
}

// LockPending locks and returns the rows of kind pending among ids, whatever
// their state. Rows are locked in ascending id order (the sort runs below
// the row-locking step of the plan), so concurrent batches cannot deadlock.
func (t *Tx) LockPending(ctx context.Context, ids []int64) ([]store.Transfer, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return queryAll(ctx, t.tx, "postgres: lock pending", scanTransfer,
		`SELECT `+transferCols+` FROM transfers WHERE id = ANY($1) AND kind = 'pending' ORDER BY id FOR UPDATE`, ids)
}

// LockAccounts locks and returns the accounts among ids, in ascending id order.
func (t *Tx) LockAccounts(ctx context.Context, ids []int64) ([]store.Account, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return queryAll(ctx, t.tx, "postgres: lock accounts", scanAccount,
		`SELECT `+accountCols+` FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
}

// splitKeys returns the two columns of keys, for unnest.
func splitKeys(keys []store.MerchantKey) (merchants []int64, ikeys []string) {
	merchants = make([]int64, len(keys))
	ikeys = make([]string, len(keys))
	for i, k := range keys {
		merchants[i], ikeys[i] = k.MerchantID, k.Key
	}
	return merchants, ikeys
}

func (t *Tx) LookupKeys(ctx context.Context, keys []store.MerchantKey) ([]store.KeyRecord, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	merchants, ikeys := splitKeys(keys)
	return queryAll(ctx, t.tx, "postgres: lookup keys", scanKey,
		`SELECT `+keyCols+` FROM idempotency_keys
		WHERE (merchant_id, ikey) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`, merchants, ikeys)
}

// TransfersByIDs returns the transfers among ids, in ascending id order.
func (t *Tx) TransfersByIDs(ctx context.Context, ids []int64) ([]store.Transfer, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return queryAll(ctx, t.tx, "postgres: transfers by ids", scanTransfer,
		`SELECT `+transferCols+` FROM transfers WHERE id = ANY($1) ORDER BY id`, ids)
}

// AccountsByKeys returns the accounts created with those keys, in ascending
// id order.
func (t *Tx) AccountsByKeys(ctx context.Context, keys []store.MerchantKey) ([]store.Account, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	merchants, ikeys := splitKeys(keys)
	// "ikey IS NOT NULL" lets the planner use the partial unique index.
	return queryAll(ctx, t.tx, "postgres: accounts by keys", scanAccount,
		`SELECT `+accountCols+` FROM accounts
		WHERE ikey IS NOT NULL AND (merchant_id, ikey) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
		ORDER BY id`, merchants, ikeys)
}

// NextTransferIDs hands out n ids from the store's pool, which it refills
// from the transfers' identity sequence a thousand at a time, so that a
// batch rarely spends a round trip on ids. Sequences are not
// transactional: a rolled-back batch, or a node that stops, leaves gaps.
func (t *Tx) NextTransferIDs(ctx context.Context, n int) ([]int64, error) {
	if n <= 0 {
		return nil, nil
	}
	return t.s.ids.take(ctx, n, func(ctx context.Context, k int) ([]int64, error) {
		if err := t.flush(ctx); err != nil {
			return nil, err
		}
		rows, err := t.tx.Query(ctx, `SELECT nextval('transfers_id_seq') AS id FROM generate_series(1, $1) ORDER BY id`, k)
		if err != nil {
			return nil, translate("postgres: next transfer ids", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		return ids, translate("postgres: next transfer ids", err)
	})
}

// InsertAccount inserts a and sets a.ID, and a.CreatedAt if it was zero. A
// key already used by the merchant gives ErrRetry: a concurrent node created
// the account first, and the caller starts over to find it.
func (t *Tx) InsertAccount(ctx context.Context, a *store.Account) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	a.CreatedAt = orNow(a.CreatedAt, now())
	err := t.tx.QueryRow(ctx, `
		INSERT INTO accounts (merchant_id, asset, name, normal, overdraft_limit, unlimited,
			debits_posted, credits_posted, debits_pending, credits_pending, ikey, metadata, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING id`,
		a.MerchantID, a.Asset, a.Name, a.Normal, a.OverdraftLimit, a.Unlimited,
		a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending,
		nullString(a.Key), nullJSON(a.Metadata), a.CreatedAt,
	).Scan(&a.ID)
	return translate("postgres: insert account", err)
}

// InsertTransfers inserts ts with the ids they carry. COPY is markedly
// faster than an INSERT over unnest-ed arrays for batches of thousands.
func (t *Tx) InsertTransfers(ctx context.Context, ts []store.Transfer) error {
	if len(ts) == 0 {
		return nil
	}
	created := now()
	if len(ts) < copyThreshold {
		n := len(ts)
		ids, merchants, keys, kinds, debits, credits := make([]int64, n), make([]int64, n), make([]string, n), make([]string, n), make([]int64, n), make([]int64, n)
		assets, amounts, pendings, states := make([]string, n), make([]int64, n), make([]*int64, n), make([]string, n)
		timeouts, metas, createds := make([]*time.Time, n), make([]*string, n), make([]time.Time, n)
		for i := range ts {
			tr := &ts[i]
			ids[i], merchants[i], keys[i], kinds[i], debits[i], credits[i] = tr.ID, tr.MerchantID, tr.Key, tr.Kind, tr.DebitAccountID, tr.CreditAccountID
			assets[i], amounts[i], states[i], timeouts[i], createds[i] = tr.Asset, tr.Amount, tr.State, tr.TimeoutAt, orNow(tr.CreatedAt, created)
			if tr.PendingID != 0 {
				pendings[i] = &tr.PendingID
			}
			if len(tr.Metadata) > 0 {
				m := string(tr.Metadata)
				metas[i] = &m
			}
		}
		t.queue(`INSERT INTO transfers (id, merchant_id, ikey, kind, debit_account_id, credit_account_id,
			asset, amount, pending_id, state, timeout_at, metadata, created_at)
			SELECT id, merchant_id, ikey, kind, debit_account_id, credit_account_id, asset, amount, pending_id, state,
				timeout_at, metadata::jsonb, created_at
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
				$8::bigint[], $9::bigint[], $10::text[], $11::timestamptz[], $12::text[], $13::timestamptz[])
				AS u(id, merchant_id, ikey, kind, debit_account_id, credit_account_id, asset, amount, pending_id, state, timeout_at, metadata, created_at)`,
			ids, merchants, keys, kinds, debits, credits, assets, amounts, pendings, states, timeouts, metas, createds)
		return nil
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"transfers"}, []string{
		"id", "merchant_id", "ikey", "kind", "debit_account_id", "credit_account_id",
		"asset", "amount", "pending_id", "state", "timeout_at", "metadata", "created_at",
	}, pgx.CopyFromSlice(len(ts), func(i int) ([]any, error) {
		tr := &ts[i]
		return []any{tr.ID, tr.MerchantID, tr.Key, tr.Kind, tr.DebitAccountID, tr.CreditAccountID,
			tr.Asset, tr.Amount, nullID(tr.PendingID), tr.State, tr.TimeoutAt, nullJSON(tr.Metadata), orNow(tr.CreatedAt, created)}, nil
	}))
	return translate(fmt.Sprintf("postgres: insert %d transfers", len(ts)), err)
}

// InsertKeys records idempotency outcomes, by COPY. A key that exists
// already gives ErrRetry (through the primary key's unique violation).
func (t *Tx) InsertKeys(ctx context.Context, ks []store.KeyRecord) error {
	if len(ks) == 0 {
		return nil
	}
	created := now()
	if len(ks) < copyThreshold {
		n := len(ks)
		merchants, keys, tids, reqs, codes, msgs, createds := make([]int64, n), make([]string, n), make([]*int64, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]time.Time, n)
		for i := range ks {
			k := &ks[i]
			merchants[i], keys[i], createds[i] = k.MerchantID, k.Key, orNow(k.CreatedAt, created)
			if k.TransferID != 0 {
				tids[i] = &k.TransferID
			}
			if len(k.Request) > 0 {
				r := string(k.Request)
				reqs[i] = &r
			}
			if k.Code != "" {
				codes[i] = &k.Code
			}
			if k.Message != "" {
				msgs[i] = &k.Message
			}
		}
		t.queue(`INSERT INTO idempotency_keys (merchant_id, ikey, transfer_id, request, code, message, created_at)
			SELECT merchant_id, ikey, transfer_id, request::jsonb, code, message, created_at
			FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
				AS u(merchant_id, ikey, transfer_id, request, code, message, created_at)`,
			merchants, keys, tids, reqs, codes, msgs, createds)
		return nil
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"idempotency_keys"}, []string{
		"merchant_id", "ikey", "transfer_id", "request", "code", "message", "created_at",
	}, pgx.CopyFromSlice(len(ks), func(i int) ([]any, error) {
		k := &ks[i]
		return []any{k.MerchantID, k.Key, nullID(k.TransferID), nullJSON(k.Request),
			nullString(k.Code), nullString(k.Message), orNow(k.CreatedAt, created)}, nil
	}))
	return translate(fmt.Sprintf("postgres: insert %d keys", len(ks)), err)
}

// SetStates updates the state of each transfer. Every id must exist, once:
// otherwise it returns ErrNotFound (and the caller rolls back).
func (t *Tx) SetStates(ctx context.Context, changes []store.StateChange) error {
	if len(changes) == 0 {
		return nil
	}
	ids, states := make([]int64, len(changes)), make([]string, len(changes))
	for i, c := range changes {
		ids[i], states[i] = c.ID, c.State
	}
	want := len(changes)
	t.queue(`
		UPDATE transfers SET state = u.state
		FROM unnest($1::bigint[], $2::text[]) AS u(id, state)
		WHERE transfers.id = u.id`, ids, states).Exec(func(tag pgconn.CommandTag) error {
		return checkUpdated("postgres: set states", tag.RowsAffected(), want, nil)
	})
	return nil
}

// UpdateBalances writes the four counters of each account. Every id must
// exist, once: otherwise it returns ErrNotFound.
func (t *Tx) UpdateBalances(ctx context.Context, as []store.Account) error {
	if len(as) == 0 {
		return nil
	}
	n := len(as)
	ids, dp, cp, dpend, cpend := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, a := range as {
		ids[i], dp[i], cp[i], dpend[i], cpend[i] = a.ID, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending
	}
	want := len(as)
	t.queue(`
		UPDATE accounts SET debits_posted = u.dp, credits_posted = u.cp,
			debits_pending = u.dpend, credits_pending = u.cpend
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, dp, cp, dpend, cpend)
		WHERE accounts.id = u.id`, ids, dp, cp, dpend, cpend).Exec(func(tag pgconn.CommandTag) error {
		return checkUpdated("postgres: update balances", tag.RowsAffected(), want, nil)
	})
	return nil
}

// checkUpdated translates err, or reports an update that touched fewer rows
// than it was given (a missing or repeated id).
func checkUpdated(op string, updated int64, want int, err error) error {
	if err != nil {
		return translate(op, err)
	}
	if updated != int64(want) {
		return fmt.Errorf("%s: %d of %d rows updated: %w", op, updated, want, store.ErrNotFound)
	}
	return nil
}

// Commit commits the transaction, within the deadline of Begin's context.
func (t *Tx) Commit() error {
	if err := t.flush(t.ctx); err != nil {
		_ = t.Rollback()
		return translate("postgres: write batch", err)
	}
	return translate("postgres: commit", t.tx.Commit(t.ctx))
}

// Rollback aborts the transaction. After Commit or Rollback it is a no-op,
// so that callers can defer it.
func (t *Tx) Rollback() error {
	t.queued = nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 10*time.Second)
	defer cancel()
	err := t.tx.Rollback(ctx)
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return translate("postgres: rollback", err)
}

// InsertEvents appends events to the outbox and sets their Seq, in one
// statement.
func (t *Tx) InsertEvents(ctx context.Context, evs []store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	n := len(evs)
	ids, merchants, types, subjects, payloads, created := make([]string, n), make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	for i, e := range evs {
		ids[i], merchants[i], types[i], subjects[i], payloads[i], created[i] = e.ID, e.MerchantID, e.Type, e.Subject, string(e.Payload), e.CreatedAt
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	rows, err := t.tx.Query(ctx, `
		INSERT INTO events (id, merchant_id, type, subject, payload, created_at)
		SELECT id, merchant_id, type, subject, payload::jsonb, created_at
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
			WITH ORDINALITY AS u(id, merchant_id, type, subject, payload, created_at, ord)
		ORDER BY ord
		RETURNING id, seq`, ids, merchants, types, subjects, payloads, created)
	if err != nil {
		return translate("postgres: insert events", err)
	}
	seqs := make(map[string]int64, n)
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			rows.Close()
			return translate("postgres: insert events", err)
		}
		seqs[id] = seq
	}
	if err := rows.Err(); err != nil {
		return translate("postgres: insert events", err)
	}
	for i := range evs {
		evs[i].Seq = seqs[evs[i].ID]
	}
	return nil
}

// Savepoint starts a savepoint for one operation.
func (t *Tx) Savepoint(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, "SAVEPOINT op")
	return translate("postgres: savepoint", err)
}

// ReleaseSavepoint keeps the operation's writes.
func (t *Tx) ReleaseSavepoint(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, "RELEASE SAVEPOINT op")
	return translate("postgres: release savepoint", err)
}

// RollbackToSavepoint undoes the operation's writes (and recovers the
// transaction if one of them failed).
func (t *Tx) RollbackToSavepoint(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT op"); err != nil {
		return translate("postgres: rollback to savepoint", err)
	}
	_, err := t.tx.Exec(ctx, "RELEASE SAVEPOINT op")
	return translate("postgres: release savepoint", err)
}
