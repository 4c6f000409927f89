-- Merchants' domain, SQLite: users (admin logins and resellers), gateways
-- and credentials per dialect, customers, wallets and system accounts.
-- Times are Unix microseconds (UTC).

-- A username identifies its merchant: unique per Coffer instance.
CREATE TABLE merchant_users (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    username     TEXT    NOT NULL UNIQUE,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'reseller')),
    created_at   INTEGER NOT NULL
);
CREATE INDEX merchant_users_merchant ON merchant_users (merchant_id, id);

-- One row per merchant and dialect: the "open gateway" switch and the
-- dialect's typed settings as JSON (no secrets).
CREATE TABLE gateways (
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    dialect      TEXT    NOT NULL,
    open         INTEGER NOT NULL DEFAULT 0,
    settings     TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, dialect)
) WITHOUT ROWID;

-- Dialect secrets: hashed (lookup = hex SHA-256) when only compared, sealed
-- with the master key when needed to verify signatures. expires_at is NULL
-- for the current credential, set for a replaced one in its grace period.
CREATE TABLE credentials (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    dialect      TEXT    NOT NULL,
    lookup       TEXT,
    sealed       BLOB,
    hint         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER
);
CREATE UNIQUE INDEX credentials_lookup ON credentials (dialect, lookup) WHERE lookup IS NOT NULL;
CREATE INDEX credentials_merchant ON credentials (merchant_id, dialect);

-- Customers: id chosen by the merchant's client, unique per merchant.
CREATE TABLE customers (
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    id           INTEGER NOT NULL CHECK (id > 0),
    email        TEXT,
    label        TEXT,
    currency     TEXT    NOT NULL DEFAULT '',
    owner_id     INTEGER REFERENCES merchant_users (id),
    tax_rate     INTEGER CHECK (tax_rate >= 0),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX customers_email ON customers (merchant_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX customers_label ON customers (merchant_id, label) WHERE label IS NOT NULL;
CREATE INDEX customers_owner ON customers (merchant_id, owner_id, id) WHERE owner_id IS NOT NULL;

-- Wallets: a customer's ledger account for one asset.
CREATE TABLE wallets (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL,
    customer_id  INTEGER NOT NULL,
    asset        TEXT    NOT NULL REFERENCES assets (code),
    account_id   INTEGER NOT NULL UNIQUE REFERENCES accounts (id),
    name         TEXT    NOT NULL UNIQUE,
    status       TEXT    NOT NULL CHECK (status IN ('active', 'inactive')),
    created_at   INTEGER NOT NULL,
    FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id)
);
CREATE UNIQUE INDEX wallets_customer_asset ON wallets (merchant_id, customer_id, asset);
CREATE INDEX wallets_merchant ON wallets (merchant_id, id);

-- A merchant's system accounts per asset, created on demand.
CREATE TABLE system_accounts (
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    asset        TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('mint', 'revenue', 'external', 'tax')),
    account_id   INTEGER NOT NULL UNIQUE REFERENCES accounts (id),
    PRIMARY KEY (merchant_id, asset, role)
) WITHOUT ROWID;

-- A value sealed with the master key, so that a wrong key is caught at
-- start-up rather than when a secret is first needed.
CREATE TABLE master_key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    sealed      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
