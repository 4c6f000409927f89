-- Payments paid in for customers (MOR payment_create, native API), with
-- their tax, conversion and the confirmation queue.
CREATE TABLE payments (
    id                  BIGSERIAL PRIMARY KEY,
    merchant_id         BIGINT NOT NULL,
    customer_id         BIGINT NOT NULL,
    source              TEXT    NOT NULL,
    txn                 TEXT,
    currency            TEXT    NOT NULL,
    amount              BIGINT NOT NULL,
    tax                 BIGINT NOT NULL,
    gross               BIGINT NOT NULL,
    tax_rate            TEXT    NOT NULL,
    tax_included        BOOLEAN NOT NULL,
    wallet_currency     TEXT    NOT NULL,
    rate                TEXT    NOT NULL,
    credited            BIGINT NOT NULL,
    tax_credited        BIGINT NOT NULL,
    wallet_id           BIGINT NOT NULL,
    credit_transfer_id  BIGINT NOT NULL,
    tax_transfer_id     BIGINT,
    payment_type        TEXT    NOT NULL DEFAULT '',
    payer_email         TEXT    NOT NULL DEFAULT '',
    comments            TEXT    NOT NULL DEFAULT '',
    username            TEXT    NOT NULL DEFAULT '',
    status              TEXT    NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    decided_at          TIMESTAMPTZ,
    decided_by          TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX payments_txn ON payments (merchant_id, txn) WHERE txn IS NOT NULL;
CREATE INDEX payments_status ON payments (merchant_id, status, id);
