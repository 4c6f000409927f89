-- Notification delivery (package notify). An event is "fanned out" once its
-- deliveries exist: one per (event, destination), where a destination is a
-- merchant's webhook endpoint whose type filter matches, or a target the
-- event's producer named (event_targets). Times are Unix microseconds.

ALTER TABLE events ADD COLUMN fanned_out INTEGER NOT NULL DEFAULT 0;
-- Both indexes hold only the events still to fan out, so they stay small.
CREATE INDEX events_fanout ON events (seq) WHERE fanned_out = 0;
CREATE INDEX events_fanout_subject ON events (merchant_id, subject, seq) WHERE fanned_out = 0;

-- Explicit destinations, written with their event (same transaction).
CREATE TABLE event_targets (
    id        INTEGER PRIMARY KEY,
    event_id  TEXT    NOT NULL,
    format    TEXT    NOT NULL,
    url       TEXT    NOT NULL,
    data      TEXT
);
CREATE INDEX event_targets_event ON event_targets (event_id, id);

CREATE TABLE webhook_endpoints (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL,
    url              TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    event_types      TEXT    NOT NULL,            -- JSON array of filters
    secret           TEXT    NOT NULL,
    prev_secret      TEXT,
    prev_expires_at  INTEGER,
    enabled          INTEGER NOT NULL DEFAULT 1,
    disabled_reason  TEXT    NOT NULL DEFAULT '',
    failures         INTEGER NOT NULL DEFAULT 0,
    failing_since    INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, id);

-- dest identifies the destination for ordering ('e:<endpoint id>' or
-- 't:<format> <url>'): a delivery is attempted only when no earlier event
-- of its subject is pending for the same destination.
CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    event_seq     INTEGER NOT NULL REFERENCES events (seq),
    merchant_id   INTEGER NOT NULL,
    subject       TEXT    NOT NULL,
    dest          TEXT    NOT NULL,
    endpoint_id   INTEGER REFERENCES webhook_endpoints (id),
    format        TEXT    NOT NULL,
    url           TEXT    NOT NULL DEFAULT '',
    data          TEXT,
    state         TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    retries       INTEGER NOT NULL DEFAULT 0,
    series_at     INTEGER NOT NULL,
    next_at       INTEGER NOT NULL,
    claim         TEXT,
    locked_until  INTEGER,
    last_at       INTEGER,
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    done_at       INTEGER,
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
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER NOT NULL REFERENCES deliveries (id),
    n                INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    url              TEXT    NOT NULL,
    request_headers  TEXT    NOT NULL,
    request_body     BLOB    NOT NULL,
    response_status  INTEGER NOT NULL DEFAULT 0,
    response_body    BLOB    NOT NULL,
    error            TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);
