-- Coffer ledger schema, SQLite. Times are Unix microseconds (UTC).
CREATE TABLE merchants (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

INSERT INTO merchants (id, name, created_at) VALUES (1, 'default', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    prefix       TEXT    NOT NULL UNIQUE,
    hash         BLOB    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'merchant')),
    name         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE TABLE assets (
    code        TEXT    PRIMARY KEY,
    scale       INTEGER NOT NULL CHECK (scale BETWEEN 0 AND 18),
    kind        TEXT    NOT NULL CHECK (kind IN ('currency', 'custom')),
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL REFERENCES merchants (id),
    asset            TEXT    NOT NULL REFERENCES assets (code),
    name             TEXT    NOT NULL DEFAULT '',
    normal           TEXT    NOT NULL CHECK (normal IN ('debit', 'credit')),
    overdraft_limit  INTEGER NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    unlimited        INTEGER NOT NULL DEFAULT 0,
    debits_posted    INTEGER NOT NULL DEFAULT 0,
    credits_posted   INTEGER NOT NULL DEFAULT 0,
    debits_pending   INTEGER NOT NULL DEFAULT 0,
    credits_pending  INTEGER NOT NULL DEFAULT 0,
    ikey             TEXT,
    metadata         TEXT,
    created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_merchant_ikey ON accounts (merchant_id, ikey) WHERE ikey IS NOT NULL;
CREATE INDEX accounts_merchant ON accounts (merchant_id, id);

CREATE TABLE transfers (
    id                 INTEGER PRIMARY KEY,
    merchant_id        INTEGER NOT NULL,
    ikey               TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    debit_account_id   INTEGER NOT NULL,
    credit_account_id  INTEGER NOT NULL,
    asset              TEXT    NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    pending_id         INTEGER,
    state              TEXT    NOT NULL,
    timeout_at         INTEGER,
    metadata           TEXT,
    created_at         INTEGER NOT NULL
);
CREATE INDEX transfers_debit ON transfers (debit_account_id, id);
CREATE INDEX transfers_credit ON transfers (credit_account_id, id);
CREATE INDEX transfers_timeout ON transfers (timeout_at) WHERE state = 'pending' AND timeout_at IS NOT NULL;

-- One row per idempotency key: the transfer it created or the failure it met.
CREATE TABLE idempotency_keys (
    merchant_id  INTEGER NOT NULL,
    ikey         TEXT    NOT NULL,
    transfer_id  INTEGER,
    request      TEXT,
    code         TEXT,
    message      TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, ikey)
) WITHOUT ROWID;
