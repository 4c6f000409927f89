package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

// Notification delivery on PostgreSQL, shared by several nodes. Fan-out and
// claims take rows with FOR UPDATE SKIP LOCKED, so nodes never wait for
// each other's rows and never take the same ones; a claim holds a delivery
// until locked_until, so the claims of a node that died expire. A claim's
// token fences its recording: an attempt whose claim was lost is logged,
// but moves nothing.

// InsertTargets records explicit destinations of an event in the batch. It
// runs at once (not queued with the batch's final writes): it belongs to
// the operation's savepoint.
func (t *Tx) InsertTargets(ctx context.Context, eventID string, ts []store.Target) error {
	if len(ts) == 0 {
		return nil
	}
	formats, urls, data := make([]string, len(ts)), make([]string, len(ts)), make([]string, len(ts))
	for i, tg := range ts {
		formats[i], urls[i], data[i] = tg.Format, tg.URL, string(tg.Data)
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO event_targets (event_id, format, url, data)
		SELECT $1, f, u, NULLIF(d, '') FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS x(f, u, d, ord) ORDER BY ord`,
		eventID, formats, urls, data)
	return translate("postgres: insert event targets", err)
}

// writeTx runs fn in one READ COMMITTED transaction.
func (s *Store) writeTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return translate(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return translate(op, tx.Commit(ctx))
}

// --- webhook endpoints ---

const endpointCols = `id, merchant_id, url, description, event_types, secret, COALESCE(prev_secret, ''), prev_expires_at,
	enabled, disabled_reason, failures, failing_since, created_at, updated_at`

func scanEndpoint(r pgx.Row) (store.WebhookEndpoint, error) {
	var ep store.WebhookEndpoint
	err := r.Scan(&ep.ID, &ep.MerchantID, &ep.URL, &ep.Description, &ep.EventTypes, &ep.Secret, &ep.PrevSecret, &ep.PrevExpiresAt,
		&ep.Enabled, &ep.DisabledReason, &ep.Failures, &ep.FailingSince, &ep.CreatedAt, &ep.UpdatedAt)
	if ep.EventTypes == nil {
		ep.EventTypes = []string{}
	}
	return ep, err
}

func nonNilTypes(types []string) []string {
	if types == nil {
		return []string{}
	}
	return types
}

// InsertWebhookEndpoint stores an endpoint and sets its id.
func (s *Store) InsertWebhookEndpoint(ctx context.Context, ep *store.WebhookEndpoint) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (merchant_id, url, description, event_types, secret,
		prev_secret, prev_expires_at, enabled, disabled_reason, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		ep.MerchantID, ep.URL, ep.Description, nonNilTypes(ep.EventTypes), ep.Secret, nullString(ep.PrevSecret), ep.PrevExpiresAt,
		ep.Enabled, ep.DisabledReason, ep.CreatedAt, ep.UpdatedAt).Scan(&ep.ID)
	return translate("postgres: insert webhook endpoint", err)
}

// UpdateWebhookEndpoint writes an endpoint's settings. The endpoint row is
// locked first, as in RecordAttempt, so that the two cannot deadlock.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, ep store.WebhookEndpoint) error {
	const op = "postgres: update webhook endpoint"
	return s.writeTx(ctx, op, func(tx pgx.Tx) error {
		var enabled bool
		err := tx.QueryRow(ctx, `SELECT enabled FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, ep.ID).Scan(&enabled)
		if err != nil {
			return translate(op, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, secret = $5,
			prev_secret = $6, prev_expires_at = $7, enabled = $8, disabled_reason = $9, updated_at = $10 WHERE id = $1`,
			ep.ID, ep.URL, ep.Description, nonNilTypes(ep.EventTypes), ep.Secret, nullString(ep.PrevSecret), ep.PrevExpiresAt,
			ep.Enabled, ep.DisabledReason, ep.UpdatedAt); err != nil {
			return translate(op, err)
		}
		if !enabled && ep.Enabled {
			if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failures = 0, failing_since = NULL WHERE id = $1`, ep.ID); err != nil {
				return translate(op, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET next_at = $2 WHERE endpoint_id = $1 AND state = 'pending' AND next_at > $2`,
				ep.ID, ep.UpdatedAt); err != nil {
				return translate(op, err)
			}
		}
		return nil
	})
}

// DeleteWebhookEndpoint marks an endpoint deleted and cancels its pending
// deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id int64, now time.Time) error {
	const op = "postgres: delete webhook endpoint"
	return s.writeTx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET deleted_at = $2, enabled = false, updated_at = $2
			WHERE id = $1 AND deleted_at IS NULL`, id, now)
		if err != nil {
			return translate(op, err)
		}
		if tag.RowsAffected() == 0 {
			return translate(op, pgx.ErrNoRows)
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET state = 'cancelled', done_at = $2 WHERE endpoint_id = $1 AND state = 'pending'`, id, now)
		return translate(op, err)
	})
}

// WebhookEndpoint reads an endpoint that is not deleted.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (store.WebhookEndpoint, error) {
	return queryOne(ctx, s.pool, "postgres: webhook endpoint", scanEndpoint,
		`SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL`, id)
}

// WebhookEndpoints lists a merchant's endpoints (0: all), in id order.
func (s *Store) WebhookEndpoints(ctx context.Context, merchantID int64) ([]store.WebhookEndpoint, error) {
	return queryAll(ctx, s.pool, "postgres: webhook endpoints", scanEndpoint,
		`SELECT `+endpointCols+` FROM webhook_endpoints WHERE deleted_at IS NULL AND ($1 = 0 OR merchant_id = $1) ORDER BY id`, merchantID)
}

// --- fan-out ---

const eventCols = `seq, id, merchant_id, type, subject, payload::text, created_at`

func scanEvent(r pgx.Row) (store.Event, error) {
	var e store.Event
	var payload string
	err := r.Scan(&e.Seq, &e.ID, &e.MerchantID, &e.Type, &e.Subject, &payload, &e.CreatedAt)
	e.Payload = []byte(payload)
	return e, err
}

// FanOut turns up to limit events into deliveries. Events another node is
// fanning out are skipped, not waited for.
func (s *Store) FanOut(ctx context.Context, now time.Time, limit int, route func(store.Event, []store.Target, []store.WebhookEndpoint) []store.Delivery) (int, error) {
	const op = "postgres: fan out"
	// The dispatcher polls: one cheap query when there is nothing to do.
	if found, err := s.exists(ctx, op, `SELECT EXISTS (SELECT 1 FROM events WHERE NOT fanned_out)`); err != nil || !found {
		return 0, err
	}
	var n int
	err := s.writeTx(ctx, op, func(tx pgx.Tx) error {
		evs, err := queryAll(ctx, tx, op, scanEvent,
			`SELECT `+eventCols+` FROM events WHERE NOT fanned_out ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, limitOrDefault(limit))
		if err != nil || len(evs) == 0 {
			return err
		}
		n = len(evs)
		ids, seqs := make([]string, n), make([]int64, n)
		var merchants []int64
		seen := map[int64]bool{}
		for i, e := range evs {
			ids[i], seqs[i] = e.ID, e.Seq
			if !seen[e.MerchantID] {
				seen[e.MerchantID] = true
				merchants = append(merchants, e.MerchantID)
			}
		}
		type targetRow struct {
			eventID string
			t       store.Target
		}
		trs, err := queryAll(ctx, tx, op, func(r pgx.Row) (targetRow, error) {
			var tr targetRow
			var data *string
			err := r.Scan(&tr.eventID, &tr.t.Format, &tr.t.URL, &data)
			if data != nil {
				tr.t.Data = []byte(*data)
			}
			return tr, err
		}, `SELECT event_id, format, url, data FROM event_targets WHERE event_id = ANY($1) ORDER BY id`, ids)
		if err != nil {
			return err
		}
		targets := map[string][]store.Target{}
		for _, tr := range trs {
			targets[tr.eventID] = append(targets[tr.eventID], tr.t)
		}
		eps, err := queryAll(ctx, tx, op, scanEndpoint, `SELECT `+endpointCols+` FROM webhook_endpoints
			WHERE enabled AND deleted_at IS NULL AND merchant_id = ANY($1) ORDER BY id`, merchants)
		if err != nil {
			return err
		}
		byMerchant := map[int64][]store.WebhookEndpoint{}
		for _, ep := range eps {
			byMerchant[ep.MerchantID] = append(byMerchant[ep.MerchantID], ep)
		}
		var dSeq, dMerchant, dEndpoint []int64
		var dSubject, dDest, dFormat, dURL, dData []string
		for _, e := range evs {
			for _, d := range route(e, targets[e.ID], byMerchant[e.MerchantID]) {
				dSeq, dMerchant, dEndpoint = append(dSeq, e.Seq), append(dMerchant, e.MerchantID), append(dEndpoint, d.EndpointID)
				dSubject, dDest, dFormat = append(dSubject, e.Subject), append(dDest, d.Dest()), append(dFormat, d.Format)
				dURL, dData = append(dURL, d.URL), append(dData, string(d.Data))
			}
		}
		if len(dSeq) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO deliveries (event_seq, merchant_id, subject, dest, endpoint_id, format, url, data,
				state, series_at, next_at, created_at)
				SELECT u.seq, u.m, u.subj, u.dest, NULLIF(u.ep, 0), u.fmt, u.url, NULLIF(u.data, ''), 'pending', $9, $9, $9
				FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
					AS u(seq, m, subj, dest, ep, fmt, url, data)
				ON CONFLICT (event_seq, dest) DO NOTHING`,
				dSeq, dMerchant, dSubject, dDest, dEndpoint, dFormat, dURL, dData, now); err != nil {
				return translate(op, err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE events SET fanned_out = true WHERE seq = ANY($1)`, seqs)
		return translate(op, err)
	})
	return n, err
}

// exists runs a SELECT EXISTS query.
func (s *Store) exists(ctx context.Context, op, query string, args ...any) (bool, error) {
	var found bool
	err := s.pool.QueryRow(ctx, query, args...).Scan(&found)
	return found, translate(op, err)
}

// --- claims and attempts ---

const deliveryCols = `d.id, d.event_seq, e.id, e.type, d.merchant_id, d.subject, COALESCE(d.endpoint_id, 0), d.format, d.url,
	COALESCE(d.data, ''), d.state, d.attempts, d.retries, d.series_at, d.next_at, d.last_at, d.last_status, d.last_error,
	d.created_at, d.done_at`

func scanDelivery(r pgx.Row) (store.Delivery, error) {
	var d store.Delivery
	return d, scanDeliveryInto(r, &d)
}

// scanDeliveryInto scans deliveryCols into d, then any extra columns.
func scanDeliveryInto(r pgx.Row, d *store.Delivery, extra ...any) error {
	var data string
	dest := []any{&d.ID, &d.EventSeq, &d.EventID, &d.EventType, &d.MerchantID, &d.Subject, &d.EndpointID, &d.Format, &d.URL, &data,
		&d.State, &d.Attempts, &d.Retries, &d.SeriesAt, &d.NextAt, &d.LastAt, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.DoneAt}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return err
	}
	if data != "" {
		d.Data = []byte(data)
	}
	return nil
}

// claimable is the condition a pending delivery d must meet to be claimed
// at $1: due, not held by a live claim, its endpoint enabled, and no
// earlier event of its subject pending for the same destination (nor still
// to be fanned out). A delivery being attempted is pending, so it holds
// back the next event of its subject.
const claimable = `d.state = 'pending' AND d.next_at <= $1 AND (d.locked_until IS NULL OR d.locked_until <= $1)
	AND (d.endpoint_id IS NULL OR EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.enabled AND w.deleted_at IS NULL))
	AND (d.subject = '' OR (
		NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.dest = d.dest AND p.merchant_id = d.merchant_id AND p.subject = d.subject
			AND p.state = 'pending' AND p.event_seq < d.event_seq)
		AND NOT EXISTS (SELECT 1 FROM events f WHERE NOT f.fanned_out AND f.merchant_id = d.merchant_id AND f.subject = d.subject
			AND f.seq < d.event_seq)))`

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ClaimDeliveries takes due deliveries until now+lease.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Claim, error) {
	const op = "postgres: claim deliveries"
	if found, err := s.exists(ctx, op, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE state = 'pending' AND next_at <= $1)`, now); err != nil || !found {
		return nil, err
	}
	token := newToken()
	var out []store.Claim
	err := s.writeTx(ctx, op, func(tx pgx.Tx) error {
		ids, err := queryAll(ctx, tx, op, func(r pgx.Row) (int64, error) {
			var id int64
			return id, r.Scan(&id)
		}, `WITH due AS (
				SELECT d.id FROM deliveries d WHERE `+claimable+`
				ORDER BY d.next_at, d.id LIMIT $2
				FOR UPDATE OF d SKIP LOCKED)
			UPDATE deliveries SET claim = $3, locked_until = $4 FROM due WHERE deliveries.id = due.id
			RETURNING deliveries.id`, now, limitOrDefault(limit), token, now.Add(lease))
		if err != nil || len(ids) == 0 {
			return err
		}
		out, err = queryAll(ctx, tx, op, func(r pgx.Row) (store.Claim, error) {
			c := store.Claim{Token: token}
			var payload string
			if err := scanDeliveryInto(r, &c.Delivery, &c.Event.MerchantID, &c.Event.Subject, &payload, &c.Event.CreatedAt); err != nil {
				return c, err
			}
			d := &c.Delivery
			c.Event.Seq, c.Event.ID, c.Event.Type, c.Event.Payload = d.EventSeq, d.EventID, d.EventType, []byte(payload)
			return c, nil
		}, `SELECT `+deliveryCols+`, e.merchant_id, e.subject, e.payload::text, e.created_at
			FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ANY($1) ORDER BY d.next_at, d.id`, ids)
		if err != nil {
			return err
		}
		var epIDs []int64
		for _, c := range out {
			if c.Delivery.EndpointID != 0 {
				epIDs = append(epIDs, c.Delivery.EndpointID)
			}
		}
		if len(epIDs) == 0 {
			return nil
		}
		eps, err := queryAll(ctx, tx, op, scanEndpoint, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ANY($1)`, epIDs)
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

// RecordAttempt logs an attempt and moves its delivery on. For an
// endpoint's delivery the endpoint row is locked first, so that concurrent
// recordings for one endpoint queue there instead of deadlocking over each
// other's deliveries.
func (s *Store) RecordAttempt(ctx context.Context, r store.AttemptResult) (bool, error) {
	const op = "postgres: record attempt"
	c, a := r.Claim, r.Attempt
	now := a.At.Add(a.Duration)
	epID := c.Delivery.EndpointID
	var held bool
	err := s.writeTx(ctx, op, func(tx pgx.Tx) error {
		var wasFailing bool
		if epID != 0 {
			err := tx.QueryRow(ctx, `SELECT failing_since IS NOT NULL FROM webhook_endpoints WHERE id = $1 FOR UPDATE`, epID).Scan(&wasFailing)
			if err != nil {
				return translate(op, err)
			}
		}
		headers := a.RequestHeaders
		if len(headers) == 0 {
			headers = []byte("{}")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_attempts (delivery_id, n, at, duration_us, url, request_headers,
			request_body, response_status, response_body, error) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)`,
			c.Delivery.ID, a.N, a.At, a.Duration.Microseconds(), a.URL, string(headers),
			nonNil(a.RequestBody), a.Status, nonNil(a.ResponseBody), a.Error); err != nil {
			return translate(op, err)
		}
		const set = `attempts = attempts + 1, last_at = $3, last_status = $4, last_error = $5, claim = NULL, locked_until = NULL`
		// The claim holds, and the series is the one claimed.
		const where = ` WHERE id = $1 AND claim = $2 AND state = 'pending' AND series_at = $6`
		args := []any{c.Delivery.ID, c.Token, now, a.Status, a.Error, c.Delivery.SeriesAt}
		var q string
		switch {
		case r.Delivered:
			q = `UPDATE deliveries SET state = 'delivered', done_at = $3, ` + set + where
		case r.GiveUp:
			q = `UPDATE deliveries SET state = 'failed', retries = retries + 1, done_at = $3, ` + set + where
		default:
			q = `UPDATE deliveries SET retries = retries + 1, next_at = $7, ` + set + where
			args = append(args, r.NextAt)
		}
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return translate(op, err)
		}
		held = tag.RowsAffected() == 1
		if !held {
			// Redelivered (a new series) or cancelled while the attempt
			// ran: count it and give the claim back, change nothing else.
			tag, err = tx.Exec(ctx, `UPDATE deliveries SET `+set+` WHERE id = $1 AND claim = $2`, args[:5]...)
			if err != nil {
				return translate(op, err)
			}
			held = tag.RowsAffected() == 1
		}
		if epID == 0 {
			return nil
		}
		if r.Delivered {
			if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failures = 0, failing_since = NULL WHERE id = $1`, epID); err != nil {
				return translate(op, err)
			}
			if wasFailing {
				// It answers again: what waited for it is due now.
				_, err := tx.Exec(ctx, `UPDATE deliveries SET next_at = $2 WHERE endpoint_id = $1 AND state = 'pending' AND next_at > $2`, epID, now)
				return translate(op, err)
			}
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failures = failures + 1,
			failing_since = CASE WHEN failing_since IS NULL AND failures + 1 >= $2 THEN $3 ELSE failing_since END WHERE id = $1`,
			epID, max(r.FailingAfter, 1), now); err != nil {
			return translate(op, err)
		}
		if r.DisableEndpoint != "" {
			if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = $3 WHERE id = $1`,
				epID, r.DisableEndpoint, now); err != nil {
				return translate(op, err)
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
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET claim = NULL, locked_until = NULL WHERE state = 'pending' AND claim = ANY($1)`, tokens)
	return translate("postgres: release claims", err)
}

// CountDueDeliveries counts pending deliveries due at now.
func (s *Store) CountDueDeliveries(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries d WHERE d.state = 'pending' AND d.next_at <= $1
		AND (d.endpoint_id IS NULL OR EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.enabled))`, now).Scan(&n)
	return n, translate("postgres: count due deliveries", err)
}

// --- reads and redelivery ---

// EventByID reads an event by its public id.
func (s *Store) EventByID(ctx context.Context, id string) (store.Event, error) {
	return queryOne(ctx, s.pool, "postgres: event", scanEvent, `SELECT `+eventCols+` FROM events WHERE id = $1`, id)
}

// Deliveries lists deliveries in id order.
func (s *Store) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	var p params
	q := `SELECT ` + deliveryCols + ` FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id > ` + p.add(f.AfterID)
	if f.MerchantID != 0 {
		q += ` AND d.merchant_id = ` + p.add(f.MerchantID)
	}
	if f.EventID != "" {
		q += ` AND d.event_seq = (SELECT seq FROM events WHERE id = ` + p.add(f.EventID) + `)`
	}
	if f.EndpointID != 0 {
		q += ` AND d.endpoint_id = ` + p.add(f.EndpointID)
	}
	if f.State != "" {
		q += ` AND d.state = ` + p.add(f.State)
	}
	q += ` ORDER BY d.id LIMIT ` + p.add(limitOrDefault(f.Limit))
	return queryAll(ctx, s.pool, "postgres: deliveries", scanDelivery, q, p...)
}

// Attempts returns a delivery's log, oldest first.
func (s *Store) Attempts(ctx context.Context, deliveryID int64) ([]store.Attempt, error) {
	return queryAll(ctx, s.pool, "postgres: delivery attempts", func(r pgx.Row) (store.Attempt, error) {
		var a store.Attempt
		var dur int64
		var headers string
		err := r.Scan(&a.ID, &a.DeliveryID, &a.N, &a.At, &dur, &a.URL, &headers, &a.RequestBody, &a.Status, &a.ResponseBody, &a.Error)
		a.Duration, a.RequestHeaders = time.Duration(dur)*time.Microsecond, []byte(headers)
		return a, err
	}, `SELECT id, delivery_id, n, at, duration_us, url, request_headers::text, request_body, response_status, response_body, error
		FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id`, deliveryID)
}

// Redeliver makes the selected deliveries due again.
func (s *Store) Redeliver(ctx context.Context, r store.Redelivery) (int, error) {
	p := params{r.Now}
	q := `UPDATE deliveries SET state = 'pending', next_at = $1, series_at = $1, retries = 0, done_at = NULL WHERE `
	if r.EventID != "" {
		q += `event_seq = (SELECT seq FROM events WHERE id = ` + p.add(r.EventID) + `) AND state <> 'cancelled'`
	} else {
		since := p.add(r.FailedSince)
		q += `((state = 'failed' AND done_at >= ` + since + `) OR (state = 'pending' AND retries > 0 AND last_at >= ` + since + `))`
	}
	if r.MerchantID != 0 {
		q += ` AND merchant_id = ` + p.add(r.MerchantID)
	}
	tag, err := s.pool.Exec(ctx, q, p...)
	if err != nil {
		return 0, translate("postgres: redeliver", err)
	}
	return int(tag.RowsAffected()), nil
}
