-- Payments paid in for customers (MOR payment_create, native API), with
-- their tax, conversion and the confirmation queue.
CREATE TABLE payments (
    id                  INTEGER PRIMARY KEY,
    merchant_id         INTEGER NOT NULL,
    customer_id         INTEGER NOT NULL,
    source              TEXT    NOT NULL,
    txn                 TEXT,
    currency            TEXT    NOT NULL,
    amount              INTEGER NOT NULL,
    tax                 INTEGER NOT NULL,
    gross               INTEGER NOT NULL,
    tax_rate            TEXT    NOT NULL,
    tax_included        INTEGER NOT NULL,
    wallet_currency     TEXT    NOT NULL,
    rate                TEXT    NOT NULL,
    credited            INTEGER NOT NULL,
    tax_credited        INTEGER NOT NULL,
    wallet_id           INTEGER NOT NULL,
    credit_transfer_id  INTEGER NOT NULL,
    tax_transfer_id     INTEGER,
    payment_type        TEXT    NOT NULL DEFAULT '',
    payer_email         TEXT    NOT NULL DEFAULT '',
    comments            TEXT    NOT NULL DEFAULT '',
    username            TEXT    NOT NULL DEFAULT '',
    status              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    decided_at          INTEGER,
    decided_by          TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX payments_txn ON payments (merchant_id, txn) WHERE txn IS NOT NULL;
CREATE INDEX payments_status ON payments (merchant_id, status, id);
