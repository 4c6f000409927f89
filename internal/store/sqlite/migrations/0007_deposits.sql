-- Deposits (Paykassma-style): payee accounts handed out to payers, deposit
-- requests, incoming external transactions and payers' claims (activations
-- and possible transactions).
CREATE TABLE deposit_payees (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL,
    wallet_type  TEXT    NOT NULL,
    identifier   TEXT    NOT NULL,
    currency     TEXT    NOT NULL,
    min_amount   INTEGER NOT NULL DEFAULT 0,
    max_amount   INTEGER NOT NULL DEFAULT 0,
    active       INTEGER NOT NULL DEFAULT 1,
    last_used_at INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX deposit_payees_ident ON deposit_payees (merchant_id, wallet_type, identifier);

CREATE TABLE deposit_requests (
    id          INTEGER PRIMARY KEY,
    merchant_id INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    label       TEXT    NOT NULL,
    wallet_type TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    payee_id    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE deposit_incoming (
    id          INTEGER PRIMARY KEY,
    merchant_id INTEGER NOT NULL,
    wallet_type TEXT    NOT NULL,
    key1        TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    payee       TEXT    NOT NULL DEFAULT '',
    occurred_at INTEGER NOT NULL,
    final       INTEGER NOT NULL,
    claim_id    INTEGER,
    source      TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX deposit_incoming_key ON deposit_incoming (merchant_id, wallet_type, key1);
CREATE UNIQUE INDEX deposit_incoming_claim ON deposit_incoming (claim_id) WHERE claim_id IS NOT NULL;

CREATE TABLE deposit_claims (
    id          INTEGER PRIMARY KEY,
    merchant_id INTEGER NOT NULL,
    custom_id   TEXT    NOT NULL,
    customer_id INTEGER NOT NULL,
    label       TEXT    NOT NULL,
    wallet_type TEXT    NOT NULL,
    key1        TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    incoming_id INTEGER,
    wallet_id   INTEGER,
    transfer_id INTEGER,
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER,
    decided_by  TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX deposit_claims_custom ON deposit_claims (merchant_id, custom_id);
-- One incoming transaction is claimed (credited or pending) at most once.
CREATE UNIQUE INDEX deposit_claims_incoming ON deposit_claims (incoming_id) WHERE incoming_id IS NOT NULL;
CREATE INDEX deposit_claims_key ON deposit_claims (merchant_id, wallet_type, key1, status);
CREATE INDEX deposit_claims_status ON deposit_claims (merchant_id, status, id);
