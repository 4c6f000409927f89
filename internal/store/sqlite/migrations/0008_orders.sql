-- Orders (MugglePay POST /v1/orders, ws.webtv's current order, native API)
-- and their state machine (docs/orders.md). Payments against an order are
-- ledger transfers keyed "order:<id>:pay:<ref>".
CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    merchant_id       INTEGER NOT NULL,
    public_id         TEXT    NOT NULL UNIQUE,
    merchant_order_id TEXT,
    customer_id       INTEGER,
    source            TEXT    NOT NULL,
    price_amount      INTEGER NOT NULL,
    price_currency    TEXT    NOT NULL,
    pay_currency      TEXT    NOT NULL,
    title             TEXT    NOT NULL DEFAULT '',
    description       TEXT    NOT NULL DEFAULT '',
    callback_url      TEXT    NOT NULL DEFAULT '',
    success_url       TEXT    NOT NULL DEFAULT '',
    cancel_url        TEXT    NOT NULL DEFAULT '',
    token             TEXT    NOT NULL DEFAULT '',
    mobile            INTEGER NOT NULL DEFAULT 0,
    fast              INTEGER NOT NULL DEFAULT 0,
    amount_paid       INTEGER NOT NULL DEFAULT 0,
    amount_due        INTEGER NOT NULL,
    overpaid          INTEGER NOT NULL DEFAULT 0,
    refunded          INTEGER NOT NULL DEFAULT 0,
    status            TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    paid_at           INTEGER
);
CREATE UNIQUE INDEX orders_merchant_order_id ON orders (merchant_id, merchant_order_id) WHERE merchant_order_id IS NOT NULL;
CREATE INDEX orders_customer_open ON orders (merchant_id, customer_id, status, id);
