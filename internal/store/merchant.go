package store

// MerchantStore holds the reads and administrative writes of merchants,
// customers, wallets and per-dialect credentials. (Filled in with the
// merchants domain.)
type MerchantStore interface{}

// MerchantTx holds the writes of merchants' domain rows that must commit
// with ledger changes, inside a ledger batch (see ledger.Do).
type MerchantTx interface{}
