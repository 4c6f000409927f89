-- The outbox: events written in the same transaction as the change they
-- announce. seq orders them; id is their stable public id.
CREATE TABLE events (
    seq          BIGSERIAL   PRIMARY KEY,
    id           TEXT        NOT NULL UNIQUE,
    merchant_id  BIGINT      NOT NULL,
    type         TEXT        NOT NULL,
    subject      TEXT        NOT NULL DEFAULT '',
    payload      JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_merchant ON events (merchant_id, seq);
