package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Notification delivery on SQLite. One process owns the database, and
// every write below runs in a write transaction (BEGIN IMMEDIATE on the
// single writer connection), so a claim is atomic without row locks.

// InsertTargets records explicit destinations of an event in the batch.
func (t *Tx) InsertTargets(ctx context.Context, eventID string, ts []store.Target) error {
	for _, tg := range ts {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO event_targets (event_id, format, url, data) VALUES (?, ?, ?, ?)`,
			eventID, tg.Format, tg.URL, nullText(tg.Data)); err != nil {
			return translate(err)
		}
	}
	return nil
}

// writeTx runs fn in one write transaction.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return translate(tx.Commit())
}

// --- webhook endpoints ---

const endpointCols = `id, merchant_id, url, description, event_types, secret, prev_secret, prev_expires_at,
	enabled, disabled_reason, failures, failing_since, created_at, updated_at`

func scanEndpoint(r scanner) (store.WebhookEndpoint, error) {
	var ep store.WebhookEndpoint
	var types string
	var prev sql.NullString
	var prevExp, failing sql.NullInt64
	var enabled int
	var created, updated int64
	err := r.Scan(&ep.ID, &ep.MerchantID, &ep.URL, &ep.Description, &types, &ep.Secret, &prev, &prevExp,
		&enabled, &ep.DisabledReason, &ep.Failures, &failing, &created, &updated)
	if err != nil {
		return ep, translate(err)
	}
	if err := json.Unmarshal([]byte(types), &ep.EventTypes); err != nil {
		return ep, fmt.Errorf("webhook endpoint %d: event types: %w", ep.ID, err)
	}
	ep.PrevSecret = prev.String
	ep.PrevExpiresAt = ptrMicros(prevExp)
	ep.Enabled = enabled != 0
	ep.FailingSince = ptrMicros(failing)
	ep.CreatedAt, ep.UpdatedAt = fromMicros(created), fromMicros(updated)
	return ep, nil
}

func typesJSON(types []string) string {
	if types == nil {
		types = []string{}
	}
	b, _ := json.Marshal(types)
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// InsertWebhookEndpoint stores an endpoint and sets its id.
func (s *Store) InsertWebhookEndpoint(ctx context.Context, ep *store.WebhookEndpoint) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO webhook_endpoints (merchant_id, url, description, event_types, secret,
		prev_secret, prev_expires_at, enabled, disabled_reason, failures, failing_since, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?)`,
		ep.MerchantID, ep.URL, ep.Description, typesJSON(ep.EventTypes), ep.Secret,
		nullStr(ep.PrevSecret), nullMicros(ep.PrevExpiresAt), boolInt(ep.Enabled), ep.DisabledReason,
		micros(ep.CreatedAt), micros(ep.UpdatedAt))
	if err != nil {
		return translate(err)
	}
	ep.ID, err = res.LastInsertId()
	return translate(err)
}

// UpdateWebhookEndpoint writes an endpoint's settings.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, ep store.WebhookEndpoint) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var enabled int
		err := tx.QueryRowContext(ctx, `SELECT enabled FROM webhook_endpoints WHERE id = ? AND deleted_at IS NULL`, ep.ID).Scan(&enabled)
		if err != nil {
			return translate(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, secret = ?,
			prev_secret = ?, prev_expires_at = ?, enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`,
			ep.URL, ep.Description, typesJSON(ep.EventTypes), ep.Secret, nullStr(ep.PrevSecret), nullMicros(ep.PrevExpiresAt),
			boolInt(ep.Enabled), ep.DisabledReason, micros(ep.UpdatedAt), ep.ID); err != nil {
			return translate(err)
		}
		if enabled == 0 && ep.Enabled {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failures = 0, failing_since = NULL WHERE id = ?`, ep.ID); err != nil {
				return translate(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_at = ? WHERE endpoint_id = ? AND state = 'pending' AND next_at > ?`,
				micros(ep.UpdatedAt), ep.ID, micros(ep.UpdatedAt)); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// DeleteWebhookEndpoint marks an endpoint deleted and cancels its pending
// deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id int64, now time.Time) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET deleted_at = ?, enabled = 0, updated_at = ? WHERE id = ? AND deleted_at IS NULL`,
			micros(now), micros(now), id)
		if err != nil {
			return translate(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return store.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'cancelled', done_at = ? WHERE endpoint_id = ? AND state = 'pending'`, micros(now), id)
		return translate(err)
	})
}

// WebhookEndpoint reads an endpoint that is not deleted.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (store.WebhookEndpoint, error) {
	return scanEndpoint(s.reader.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ? AND deleted_at IS NULL`, id))
}

// WebhookEndpoints lists a merchant's endpoints (0: all), in id order.
func (s *Store) WebhookEndpoints(ctx context.Context, merchantID int64) ([]store.WebhookEndpoint, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE deleted_at IS NULL AND (? = 0 OR merchant_id = ?) ORDER BY id`, merchantID, merchantID)
	return collect(rows, err, scanEndpoint)
}

// --- fan-out ---

const eventCols = `seq, id, merchant_id, type, subject, payload, created_at`

func scanEvent(r scanner) (store.Event, error) {
	var e store.Event
	var payload string
	var created int64
	err := r.Scan(&e.Seq, &e.ID, &e.MerchantID, &e.Type, &e.Subject, &payload, &created)
	e.Payload = []byte(payload)
	e.CreatedAt = fromMicros(created)
	return e, translate(err)
}

// FanOut turns up to limit events into deliveries.
func (s *Store) FanOut(ctx context.Context, now time.Time, limit int, route func(store.Event, []store.Target, []store.WebhookEndpoint) []store.Delivery) (int, error) {
	// The dispatcher polls: look on a reader first, so that an idle outbox
	// never takes the single writer away from the ledger.
	if found, err := s.exists(ctx, `SELECT 1 FROM events WHERE fanned_out = 0 LIMIT 1`); err != nil || !found {
		return 0, err
	}
	var n int
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE fanned_out = 0 ORDER BY seq LIMIT ?`, limitOf(limit))
		evs, err := collect(rows, err, scanEvent)
		if err != nil || len(evs) == 0 {
			return err
		}
		n = len(evs)
		var ids, merchants, seqs []any
		seenMerchant := map[int64]bool{}
		for _, e := range evs {
			ids = append(ids, e.ID)
			seqs = append(seqs, e.Seq)
			if !seenMerchant[e.MerchantID] {
				seenMerchant[e.MerchantID] = true
				merchants = append(merchants, e.MerchantID)
			}
		}
		type targetRow struct {
			eventID string
			t       store.Target
		}
		trs, err := chunked(ctx, tx, `SELECT event_id, format, url, data FROM event_targets WHERE event_id IN (%s) ORDER BY id`, nil, ids,
			func(r scanner) (targetRow, error) {
				var tr targetRow
				var data sql.NullString
				err := r.Scan(&tr.eventID, &tr.t.Format, &tr.t.URL, &data)
				if data.Valid {
					tr.t.Data = []byte(data.String)
				}
				return tr, translate(err)
			})
		if err != nil {
			return err
		}
		targets := map[string][]store.Target{}
		for _, tr := range trs {
			targets[tr.eventID] = append(targets[tr.eventID], tr.t)
		}
		eps, err := chunked(ctx, tx, `SELECT `+endpointCols+` FROM webhook_endpoints
			WHERE enabled = 1 AND deleted_at IS NULL AND merchant_id IN (%s) ORDER BY id`, nil, merchants, scanEndpoint)
		if err != nil {
			return err
		}
		byMerchant := map[int64][]store.WebhookEndpoint{}
		for _, ep := range eps {
			byMerchant[ep.MerchantID] = append(byMerchant[ep.MerchantID], ep)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (event_seq, merchant_id, subject, dest, endpoint_id, format, url, data,
			state, attempts, retries, series_at, next_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?) ON CONFLICT (event_seq, dest) DO NOTHING`)
		if err != nil {
			return translate(err)
		}
		defer ins.Close()
		at := micros(now)
		for _, e := range evs {
			for _, d := range route(e, targets[e.ID], byMerchant[e.MerchantID]) {
				if _, err := ins.ExecContext(ctx, e.Seq, e.MerchantID, e.Subject, d.Dest(), nullID(d.EndpointID), d.Format, d.URL,
					nullText(d.Data), at, at, at); err != nil {
					return translate(err)
				}
			}
		}
		for start := 0; start < len(seqs); start += 500 {
			part := seqs[start:min(start+500, len(seqs))]
			if _, err := tx.ExecContext(ctx, `UPDATE events SET fanned_out = 1 WHERE seq IN (`+placeholders(len(part))+`)`, part...); err != nil {
				return translate(err)
			}
		}
		return nil
	})
	return n, err
}

// exists reports whether a query on a reader returns a row.
func (s *Store) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := s.reader.QueryRowContext(ctx, query, args...).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, translate(err)
}

// --- claims and attempts ---

const deliveryCols = `d.id, d.event_seq, e.id, e.type, d.merchant_id, d.subject, COALESCE(d.endpoint_id, 0), d.format, d.url, d.data,
	d.state, d.attempts, d.retries, d.series_at, d.next_at, d.last_at, d.last_status, d.last_error, d.created_at, d.done_at`

func scanDelivery(r scanner) (store.Delivery, error) {
	var d store.Delivery
	return d, scanDeliveryInto(r, &d)
}

// scanDeliveryInto scans deliveryCols into d, then any extra columns.
func scanDeliveryInto(r scanner, d *store.Delivery, extra ...any) error {
	var data sql.NullString
	var series, next, created int64
	var last, done sql.NullInt64
	dest := []any{&d.ID, &d.EventSeq, &d.EventID, &d.EventType, &d.MerchantID, &d.Subject, &d.EndpointID, &d.Format, &d.URL, &data,
		&d.State, &d.Attempts, &d.Retries, &series, &next, &last, &d.LastStatus, &d.LastError, &created, &done}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return translate(err)
	}
	if data.Valid {
		d.Data = []byte(data.String)
	}
	d.SeriesAt, d.NextAt, d.CreatedAt = fromMicros(series), fromMicros(next), fromMicros(created)
	d.LastAt, d.DoneAt = ptrMicros(last), ptrMicros(done)
	return nil
}

// claimable is the condition a pending delivery d must meet to be claimed
// at ?1 (now): due, not held by a live claim, its endpoint enabled, and no
// earlier event of its subject pending for the same destination (nor
// still to be fanned out).
const claimable = `d.state = 'pending' AND d.next_at <= ?1 AND (d.locked_until IS NULL OR d.locked_until <= ?1)
	AND (d.endpoint_id IS NULL OR EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.enabled = 1 AND w.deleted_at IS NULL))
	AND (d.subject = '' OR (
		NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.dest = d.dest AND p.merchant_id = d.merchant_id AND p.subject = d.subject
			AND p.state = 'pending' AND p.event_seq < d.event_seq)
		AND NOT EXISTS (SELECT 1 FROM events f WHERE f.fanned_out = 0 AND f.merchant_id = d.merchant_id AND f.subject = d.subject
			AND f.seq < d.event_seq)))`

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ClaimDeliveries takes due deliveries until now+lease.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Claim, error) {
	if found, err := s.exists(ctx, `SELECT 1 FROM deliveries WHERE state = 'pending' AND next_at <= ? LIMIT 1`, micros(now)); err != nil || !found {
		return nil, err
	}
	var out []store.Claim
	token := newToken()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT d.id FROM deliveries d WHERE `+claimable+` ORDER BY d.next_at, d.id LIMIT ?2`,
			micros(now), limitOf(limit))
		ids, err := collect(rows, err, func(r scanner) (any, error) {
			var id int64
			err := r.Scan(&id)
			return id, translate(err)
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		in := placeholders(len(ids))
		args := append([]any{token, micros(now.Add(lease))}, ids...)
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET claim = ?, locked_until = ? WHERE id IN (`+in+`)`, args...); err != nil {
			return translate(err)
		}
		rows, err = tx.QueryContext(ctx, `SELECT `+deliveryCols+`, e.merchant_id, e.subject, e.payload, e.created_at
			FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id IN (`+in+`) ORDER BY d.next_at, d.id`, ids...)
		out, err = collect(rows, err, func(r scanner) (store.Claim, error) {
			c := store.Claim{Token: token}
			var payload string
			var created int64
			if err := scanDeliveryInto(r, &c.Delivery, &c.Event.MerchantID, &c.Event.Subject, &payload, &created); err != nil {
				return c, err
			}
			d := &c.Delivery
			c.Event.Seq, c.Event.ID, c.Event.Type = d.EventSeq, d.EventID, d.EventType
			c.Event.Payload, c.Event.CreatedAt = []byte(payload), fromMicros(created)
			return c, nil
		})
		if err != nil {
			return err
		}
		var epIDs []any
		for _, c := range out {
			if c.Delivery.EndpointID != 0 {
				epIDs = append(epIDs, c.Delivery.EndpointID)
			}
		}
		if len(epIDs) == 0 {
			return nil
		}
		eps, err := chunked(ctx, tx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id IN (%s)`, nil, epIDs, scanEndpoint)
		if err != nil {
			return err
		}
		byID := map[int64]*store.WebhookEndpoint{}
		for i := range eps {
			byID[eps[i].ID] = &eps[i]
		}
		for i := range out {
			if id := out[i].Delivery.EndpointID; id != 0 {
				out[i].Endpoint = byID[id]
			}
		}
		return nil
	})
	return out, err
}

// RecordAttempt logs an attempt and moves its delivery on.
func (s *Store) RecordAttempt(ctx context.Context, r store.AttemptResult) (bool, error) {
	c := r.Claim
	a := r.Attempt
	now := micros(a.At.Add(a.Duration))
	var held bool
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		headers := a.RequestHeaders
		if len(headers) == 0 {
			headers = []byte("{}")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_attempts (delivery_id, n, at, duration_us, url, request_headers,
			request_body, response_status, response_body, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Delivery.ID, a.N, micros(a.At), a.Duration.Microseconds(), a.URL, string(headers),
			nonNil(a.RequestBody), a.Status, nonNil(a.ResponseBody), a.Error); err != nil {
			return translate(err)
		}
		var res sql.Result
		var err error
		const set = `attempts = attempts + 1, last_at = ?, last_status = ?, last_error = ?, claim = NULL, locked_until = NULL`
		// The claim holds, and the series is the one claimed.
		const where = ` WHERE id = ? AND claim = ? AND state = 'pending' AND series_at = ?`
		series := micros(c.Delivery.SeriesAt)
		switch {
		case r.Delivered:
			res, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'delivered', done_at = ?, `+set+where,
				now, now, a.Status, a.Error, c.Delivery.ID, c.Token, series)
		case r.GiveUp:
			res, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'failed', retries = retries + 1, done_at = ?, `+set+where,
				now, now, a.Status, a.Error, c.Delivery.ID, c.Token, series)
		default:
			res, err = tx.ExecContext(ctx, `UPDATE deliveries SET retries = retries + 1, next_at = ?, `+set+where,
				micros(r.NextAt), now, a.Status, a.Error, c.Delivery.ID, c.Token, series)
		}
		if err != nil {
			return translate(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return translate(err)
		}
		held = n == 1
		if !held {
			// Redelivered (a new series) or cancelled while the attempt
			// ran: count it and give the claim back, change nothing else.
			res, err = tx.ExecContext(ctx, `UPDATE deliveries SET `+set+` WHERE id = ? AND claim = ?`,
				now, a.Status, a.Error, c.Delivery.ID, c.Token)
			if err != nil {
				return translate(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return translate(err)
			}
			held = n == 1
		}
		epID := c.Delivery.EndpointID
		if epID == 0 {
			return nil
		}
		if r.Delivered {
			var failing sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT failing_since FROM webhook_endpoints WHERE id = ?`, epID).Scan(&failing); err != nil {
				return translate(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failures = 0, failing_since = NULL WHERE id = ?`, epID); err != nil {
				return translate(err)
			}
			if failing.Valid {
				// It answers again: what waited for it is due now.
				_, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_at = ? WHERE endpoint_id = ? AND state = 'pending' AND next_at > ?`, now, epID, now)
				return translate(err)
			}
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failures = failures + 1,
			failing_since = CASE WHEN failing_since IS NULL AND failures + 1 >= ? THEN ? ELSE failing_since END WHERE id = ?`,
			max(r.FailingAfter, 1), now, epID); err != nil {
			return translate(err)
		}
		if r.DisableEndpoint != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?`,
				r.DisableEndpoint, now, epID); err != nil {
				return translate(err)
			}
		}
		return nil
	})
	return held, err
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ReleaseClaims gives back unrecorded claims.
func (s *Store) ReleaseClaims(ctx context.Context, tokens []string) error {
	if len(tokens) == 0 {
		return nil
	}
	args := make([]any, len(tokens))
	for i, t := range tokens {
		args[i] = t
	}
	_, err := s.writer.ExecContext(ctx, `UPDATE deliveries SET claim = NULL, locked_until = NULL
		WHERE state = 'pending' AND claim IN (`+placeholders(len(args))+`)`, args...)
	return translate(err)
}

// CountDueDeliveries counts pending deliveries due at now.
func (s *Store) CountDueDeliveries(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM deliveries d WHERE d.state = 'pending' AND d.next_at <= ?
		AND (d.endpoint_id IS NULL OR EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.enabled = 1))`,
		micros(now)).Scan(&n)
	return n, translate(err)
}

// --- reads and redelivery ---

// EventByID reads an event by its public id.
func (s *Store) EventByID(ctx context.Context, id string) (store.Event, error) {
	return scanEvent(s.reader.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = ?`, id))
}

// Deliveries lists deliveries in id order.
func (s *Store) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	var where []string
	args := []any{f.AfterID}
	where = append(where, "d.id > ?")
	if f.MerchantID != 0 {
		where = append(where, "d.merchant_id = ?")
		args = append(args, f.MerchantID)
	}
	if f.EventID != "" {
		where = append(where, "d.event_seq = (SELECT seq FROM events WHERE id = ?)")
		args = append(args, f.EventID)
	}
	if f.EndpointID != 0 {
		where = append(where, "d.endpoint_id = ?")
		args = append(args, f.EndpointID)
	}
	if f.State != "" {
		where = append(where, "d.state = ?")
		args = append(args, f.State)
	}
	args = append(args, limitOf(f.Limit))
	rows, err := s.reader.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE `+strings.Join(where, " AND ")+` ORDER BY d.id LIMIT ?`, args...)
	return collect(rows, err, scanDelivery)
}

// Attempts returns a delivery's log, oldest first.
func (s *Store) Attempts(ctx context.Context, deliveryID int64) ([]store.Attempt, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, delivery_id, n, at, duration_us, url, request_headers, request_body,
		response_status, response_body, error FROM delivery_attempts WHERE delivery_id = ? ORDER BY id`, deliveryID)
	return collect(rows, err, func(r scanner) (store.Attempt, error) {
		var a store.Attempt
		var at, dur int64
		var headers string
		err := r.Scan(&a.ID, &a.DeliveryID, &a.N, &at, &dur, &a.URL, &headers, &a.RequestBody, &a.Status, &a.ResponseBody, &a.Error)
		a.At, a.Duration, a.RequestHeaders = fromMicros(at), time.Duration(dur)*time.Microsecond, []byte(headers)
		return a, translate(err)
	})
}

// Redeliver makes the selected deliveries due again.
func (s *Store) Redeliver(ctx context.Context, r store.Redelivery) (int, error) {
	now := micros(r.Now)
	args := []any{now, now}
	var where string
	switch {
	case r.EventID != "":
		where = `event_seq = (SELECT seq FROM events WHERE id = ?) AND state <> 'cancelled'`
		args = append(args, r.EventID)
	default:
		since := micros(r.FailedSince)
		where = `((state = 'failed' AND done_at >= ?) OR (state = 'pending' AND retries > 0 AND last_at >= ?))`
		args = append(args, since, since)
	}
	if r.MerchantID != 0 {
		where += ` AND merchant_id = ?`
		args = append(args, r.MerchantID)
	}
	res, err := s.writer.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', next_at = ?, series_at = ?, retries = 0, done_at = NULL
		WHERE `+where, args...)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}
