-- Notification delivery (package notify). An event is "fanned out" once its
-- deliveries exist: one per (event, destination), where a destination is a
-- merchant's webhook endpoint whose type filter matches, or a target the
-- event's producer named (event_targets). Several nodes share these tables:
-- fan-out and claims take rows with FOR UPDATE SKIP LOCKED, and a claim
-- holds a delivery only until locked_until, so a dead node's claims expire.

ALTER TABLE events ADD COLUMN fanned_out BOOLEAN NOT NULL DEFAULT false;
-- Both indexes hold only the events still to fan out, so they stay small.
CREATE INDEX events_fanout ON events (seq) WHERE NOT fanned_out;
CREATE INDEX events_fanout_subject ON events (merchant_id, subject, seq) WHERE NOT fanned_out;

-- Explicit destinations, written with their event (same transaction).
CREATE TABLE event_targets (
    id        BIGSERIAL PRIMARY KEY,
    event_id  TEXT      NOT NULL,
    format    TEXT      NOT NULL,
    url       TEXT      NOT NULL,
    data      TEXT
);
CREATE INDEX event_targets_event ON event_targets (event_id, id);

CREATE TABLE webhook_endpoints (
    id               BIGSERIAL   PRIMARY KEY,
    merchant_id      BIGINT      NOT NULL,
    url              TEXT        NOT NULL,
    description      TEXT        NOT NULL DEFAULT '',
    event_types      TEXT[]      NOT NULL,
    secret           TEXT        NOT NULL,
    prev_secret      TEXT,
    prev_expires_at  TIMESTAMPTZ,
    enabled          BOOLEAN     NOT NULL DEFAULT true,
    disabled_reason  TEXT        NOT NULL DEFAULT '',
    failures         INTEGER     NOT NULL DEFAULT 0,
    failing_since    TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    deleted_at       TIMESTAMPTZ
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, id);

-- dest identifies the destination for ordering ('e:<endpoint id>' or
-- 't:<format> <url>'): a delivery is attempted only when no earlier event
-- of its subject is pending for the same destination.
CREATE TABLE deliveries (
    id            BIGSERIAL   PRIMARY KEY,
    event_seq     BIGINT      NOT NULL REFERENCES events (seq),
    merchant_id   BIGINT      NOT NULL,
    subject       TEXT        NOT NULL,
    dest          TEXT        NOT NULL,
    endpoint_id   BIGINT      REFERENCES webhook_endpoints (id),
    format        TEXT        NOT NULL,
    url           TEXT        NOT NULL DEFAULT '',
    data          TEXT,
    state         TEXT        NOT NULL,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    retries       INTEGER     NOT NULL DEFAULT 0,
    series_at     TIMESTAMPTZ NOT NULL,
    next_at       TIMESTAMPTZ NOT NULL,
    claim         TEXT,
    locked_until  TIMESTAMPTZ,
    last_at       TIMESTAMPTZ,
    last_status   INTEGER     NOT NULL DEFAULT 0,
    last_error    TEXT        NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    done_at       TIMESTAMPTZ,
    UNIQUE (event_seq, dest)
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'pending';
CREATE INDEX deliveries_order ON deliveries (dest, merchant_id, subject, event_seq) WHERE state = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id) WHERE state = 'pending';
CREATE INDEX deliveries_failed ON deliveries (done_at) WHERE state = 'failed';
CREATE INDEX deliveries_retrying ON deliveries (last_at) WHERE state = 'pending' AND retries > 0;
CREATE INDEX deliveries_merchant ON deliveries (merchant_id, id);

-- The delivery log: one row per HTTP attempt.
CREATE TABLE delivery_attempts (
    id               BIGSERIAL   PRIMARY KEY,
    delivery_id      BIGINT      NOT NULL REFERENCES deliveries (id),
    n                INTEGER     NOT NULL,
    at               TIMESTAMPTZ NOT NULL,
    duration_us      BIGINT      NOT NULL,
    url              TEXT        NOT NULL,
    request_headers  JSONB       NOT NULL,
    request_body     BYTEA       NOT NULL,
    response_status  INTEGER     NOT NULL DEFAULT 0,
    response_body    BYTEA       NOT NULL,
    error            TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);
