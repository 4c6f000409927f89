-- The outbox: events written in the same transaction as the change they
-- announce. seq orders them; id is their stable public id.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    merchant_id  INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    subject      TEXT    NOT NULL DEFAULT '',
    payload      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX events_merchant ON events (merchant_id, seq);
