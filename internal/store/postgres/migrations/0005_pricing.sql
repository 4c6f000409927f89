-- Exchange rates against the base currency, kept as history: the newest
-- row of a currency is its current rate. Rates are exact decimal text.
CREATE TABLE exchange_rates (
    id        BIGSERIAL   PRIMARY KEY,
    currency  TEXT        NOT NULL,
    rate      TEXT        NOT NULL,
    set_at    TIMESTAMPTZ NOT NULL,
    set_by    TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX exchange_rates_currency ON exchange_rates (currency, id);
