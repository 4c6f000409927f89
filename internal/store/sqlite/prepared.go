package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Statements are prepared once on the writer connection, because parsing
// SQL costs more than running it at the rates the ledger needs. To keep the
// set finite, variable-length lists use power-of-two sizes: SELECT … IN
// lists are padded up to the next size with values that match nothing,
// and multi-row writes are split into power-of-two chunks.

const maxChunk = 64

// chunkSize is the largest power of two <= min(n, maxChunk).
func chunkSize(n int) int {
	s := maxChunk
	for s > n {
		s >>= 1
	}
	return s
}

// padSize is the smallest power of two >= n, at most maxChunk.
func padSize(n int) int {
	s := 1
	for s < n && s < maxChunk {
		s <<= 1
	}
	return s
}

func multiRowSQL(head string, cols, rows int) string {
	tuple := "(" + placeholders(cols) + ")"
	return head + strings.Repeat(tuple+",", rows-1) + tuple
}

func updateBalancesSQL(rows int) string {
	return `WITH v(id, dp, cp, dq, cq) AS (VALUES ` + strings.Repeat("(?,?,?,?,?),", rows-1) + `(?,?,?,?,?))
		UPDATE accounts SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dq, credits_pending = v.cq
		FROM v WHERE accounts.id = v.id`
}

// The queries that padded runs, with %s for the IN list.
const (
	qLockPending    = `SELECT ` + transferCols + ` FROM transfers WHERE kind = 'pending' AND id IN (%s) ORDER BY id`
	qLockAccounts   = `SELECT ` + accountCols + ` FROM accounts WHERE id IN (%s) ORDER BY id`
	qLookupKeys     = `SELECT ` + keyCols + ` FROM idempotency_keys WHERE merchant_id = ? AND ikey IN (%s)`
	qTransfersByIDs = `SELECT ` + transferCols + ` FROM transfers WHERE id IN (%s) ORDER BY id`
	qAccountsByKeys = `SELECT ` + accountCols + ` FROM accounts WHERE merchant_id = ? AND ikey IN (%s) ORDER BY id`
	qInsertTransfer = `INSERT INTO transfers (` + transferCols + `) VALUES `
	qInsertKey      = `INSERT INTO idempotency_keys (` + keyCols + `) VALUES `
	qSetState       = `UPDATE transfers SET state = ? WHERE id = ?`
	qMaxTransferID  = `SELECT COALESCE(MAX(id), 0) FROM transfers`
)

func allStatements() []string {
	var out []string
	for size := 1; size <= maxChunk; size <<= 1 {
		for _, q := range []string{qLockPending, qLockAccounts, qLookupKeys, qTransfersByIDs, qAccountsByKeys} {
			out = append(out, fmt.Sprintf(q, placeholders(size)))
		}
		out = append(out, multiRowSQL(qInsertTransfer, 13, size), multiRowSQL(qInsertKey, 7, size), updateBalancesSQL(size))
	}
	return append(out, qSetState, qMaxTransferID)
}

// prepareAll prepares every known statement on the writer. It runs before a
// write transaction starts (the single writer connection must be free) and
// after migrations (the tables must exist); until it succeeds, statements
// run unprepared.
func (s *Store) prepareAll(ctx context.Context) {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.prep != nil {
		return
	}
	prep := make(map[string]*sql.Stmt)
	for _, q := range allStatements() {
		st, err := s.writer.PrepareContext(ctx, q)
		if err != nil {
			for _, p := range prep {
				p.Close()
			}
			return
		}
		prep[q] = st
	}
	s.prep = prep
}

func (s *Store) prepared(query string) *sql.Stmt {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	return s.prep[query]
}

// padded runs a prepared IN-list query over args in chunks padded to a
// power-of-two size with pad values that match no row.
func padded[T any](ctx context.Context, t *Tx, query string, fixed []any, args []any, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	pad := any(int64(-1))
	if len(args) > 0 {
		if _, ok := args[0].(string); ok {
			pad = "\x00"
		}
	}
	for start := 0; start < len(args); start += maxChunk {
		part := args[start:min(start+maxChunk, len(args))]
		size := padSize(len(part))
		all := make([]any, 0, len(fixed)+size)
		all = append(append(all, fixed...), part...)
		for len(all) < len(fixed)+size {
			all = append(all, pad)
		}
		rows, err := t.query(ctx, fmt.Sprintf(query, placeholders(size)), all...)
		got, err := collect(rows, err, scan)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}
