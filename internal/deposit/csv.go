package deposit

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// CSV import of a bank/provider statement: one incoming transaction a row.
// The first row names the columns (case-insensitive, in any order):
//
//	key1      the provider's transaction number (also: transaction, transaction_id, txn)
//	amount    decimal, "." as the separator
//	currency  ISO 4217 (optional when the import gives a default)
//	payee     the payee account (optional)
//	time      RFC 3339, or "2006-01-02 15:04:05" in UTC (optional: the import time)
//	final     true/false, 1/0, yes/no (optional: true)
//
// Every row is checked before anything is recorded; recording is then
// idempotent by key1, so importing the same statement again is harmless.

// ImportParams describe a statement to import.
type ImportParams struct {
	MerchantID int64
	WalletType string
	Currency   string // default for rows without a currency column
	Source     string // "csv" when empty
	MaxRows    int    // 0: 100000
}

// ImportReport tells what an import did.
type ImportReport struct {
	Rows     int // data rows read
	Recorded int // new incoming transactions
	Replayed int // recorded before (possibly now made final)
	Credited int // claims credited by this import
	Pending  int // claims matched and left pending
}

// LineError is a bad row of a statement.
type LineError struct {
	Line int
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

var csvAliases = map[string]string{
	"key1": "key1", "transaction": "key1", "transaction_id": "key1", "txn": "key1",
	"amount": "amount", "currency": "currency", "payee": "payee", "time": "time", "final": "final",
}

// ParseCSV reads a statement into incoming-transaction parameters; a bad
// row is a LineError (all of them, joined).
func ParseCSV(r io.Reader, p ImportParams) ([]IncomingParams, error) {
	max := p.MaxRows
	if max <= 0 {
		max = 100000
	}
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read the header row: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		name, ok := csvAliases[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))]
		if !ok {
			continue
		}
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("column %q is given twice", name)
		}
		col[name] = i
	}
	for _, need := range []string{"key1", "amount"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("the header has no %s column", need)
		}
	}
	if _, ok := col["currency"]; !ok && p.Currency == "" {
		return nil, errors.New("the header has no currency column and no default currency is given")
	}
	src := p.Source
	if src == "" {
		src = "csv"
	}
	var out []IncomingParams
	var errs []error
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, LineError{line, err})
			break
		}
		if len(out) >= max {
			return nil, fmt.Errorf("more than %d rows", max)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		in := IncomingParams{MerchantID: p.MerchantID, WalletType: p.WalletType, Key1: get("key1"), Amount: get("amount"),
			Currency: strings.ToUpper(get("currency")), Payee: get("payee"), Final: true, Source: src}
		if in.Currency == "" {
			in.Currency = p.Currency
		}
		if err := checkIncoming(in); err != nil {
			errs = append(errs, LineError{line, err})
			continue
		}
		if t := get("time"); t != "" {
			at, err := time.Parse(time.RFC3339, t)
			if err != nil {
				at, err = time.Parse(time.DateTime, t)
			}
			if err != nil {
				errs = append(errs, LineError{line, fmt.Errorf("time %q is neither RFC 3339 nor %q", t, time.DateTime)})
				continue
			}
			in.OccurredAt = at
		}
		if f := get("final"); f != "" {
			switch strings.ToLower(f) {
			case "yes", "y":
				in.Final = true
			case "no", "n":
				in.Final = false
			default:
				b, err := strconv.ParseBool(f)
				if err != nil {
					errs = append(errs, LineError{line, fmt.Errorf("final %q is not true or false", f)})
					continue
				}
				in.Final = b
			}
		}
		out = append(out, in)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ImportCSV parses a statement and records its rows (see ParseCSV). On a
// database error part of the rows may be recorded: importing again
// completes it.
func (s *Service) ImportCSV(ctx context.Context, r io.Reader, p ImportParams) (ImportReport, error) {
	if !validWalletType(p.WalletType) {
		return ImportReport{}, ErrUnknownWalletType
	}
	rows, err := ParseCSV(r, p)
	if err != nil {
		return ImportReport{}, invalid("csv", "%v", err)
	}
	rep := ImportReport{Rows: len(rows)}
	for i, in := range rows {
		res, err := s.RecordIncoming(ctx, in)
		if err != nil {
			return rep, fmt.Errorf("row %d (key1 %s): %w", i+1, in.Key1, err)
		}
		if res.Replayed {
			rep.Replayed++
		} else {
			rep.Recorded++
		}
		if res.Claim != nil {
			switch res.Claim.Status {
			case store.ClaimCredited:
				rep.Credited++
			case store.ClaimPending:
				rep.Pending++
			}
		}
	}
	return rep, nil
}
