-- Orders (MugglePay POST /v1/orders, ws.webtv's current order, native API)
-- and their state machine (docs/orders.md). Payments against an order are
-- ledger transfers keyed "order:<id>:pay:<ref>".
CREATE TABLE orders (
    id                BIGSERIAL PRIMARY KEY,
    merchant_id       BIGINT  NOT NULL,
    public_id         TEXT    NOT NULL UNIQUE,
    merchant_order_id TEXT,
    customer_id       BIGINT,
    source            TEXT    NOT NULL,
    price_amount      BIGINT  NOT NULL,
    price_currency    TEXT    NOT NULL,
    pay_currency      TEXT    NOT NULL,
    title             TEXT    NOT NULL DEFAULT '',
    description       TEXT    NOT NULL DEFAULT '',
    callback_url      TEXT    NOT NULL DEFAULT '',
    success_url       TEXT    NOT NULL DEFAULT '',
    cancel_url        TEXT    NOT NULL DEFAULT '',
    token             TEXT    NOT NULL DEFAULT '',
    mobile            BOOLEAN NOT NULL DEFAULT FALSE,
    fast              BOOLEAN NOT NULL DEFAULT FALSE,
    amount_paid       BIGINT  NOT NULL DEFAULT 0,
    amount_due        BIGINT  NOT NULL,
    overpaid          BIGINT  NOT NULL DEFAULT 0,
    refunded          BIGINT  NOT NULL DEFAULT 0,
    status            TEXT    NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    paid_at           TIMESTAMPTZ
);
CREATE UNIQUE INDEX orders_merchant_order_id ON orders (merchant_id, merchant_order_id) WHERE merchant_order_id IS NOT NULL;
CREATE INDEX orders_customer_open ON orders (merchant_id, customer_id, status, id);
