-- Up Migration
-- The ledger-projector's own schema. Amounts are NUMERIC without precision limit
-- (sums of 78-digit amounts may exceed 78 digits) and at most 18 decimals; never floats.

-- The ledger schema is created before migrating (src/db/migrate.ts ensureSchema, or the database
-- setup with its owner role): a role that owns it but may not create schemas must be able to run this file.

-- Chart of accounts (see src/core/accounts.ts). Balances are debit-positive.
CREATE TABLE ledger.accounts (
  account_id  TEXT PRIMARY KEY,
  asset       TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('wallet_pending', 'wallet_available', 'wallet_held', 'external')),
  wallet_id   TEXT,
  provider    TEXT,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (account_id, asset),
  CHECK ((kind = 'external' AND provider IS NOT NULL AND wallet_id IS NULL)
      OR (kind <> 'external' AND wallet_id IS NOT NULL AND provider IS NULL))
);

-- One row per provider transaction: its state machine (the core's TxState, stored as
-- columns plus `facts`: the event types seen with their amounts).
CREATE TABLE ledger.transactions (
  provider            TEXT NOT NULL,
  transaction_id      TEXT NOT NULL,
  kind                TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
  wallet_id           TEXT NOT NULL,
  asset               TEXT NOT NULL,
  amount              NUMERIC NOT NULL CHECK (amount >= 0 AND scale(amount) <= 18),
  status              TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'failed', 'reversed', 'requested', 'broadcast')),
  decision            TEXT NOT NULL CHECK (decision IN ('ALLOW', 'REVIEW', 'BLOCK')),
  reasons             JSONB NOT NULL DEFAULT '[]'::jsonb,
  anomalies           JSONB NOT NULL DEFAULT '[]'::jsonb,
  released_by         TEXT,
  released_at         TIMESTAMPTZ,
  -- this transaction's current contribution to its wallet's buckets
  pending             NUMERIC NOT NULL CHECK (pending >= 0),
  available           NUMERIC NOT NULL,
  held                NUMERIC NOT NULL CHECK (held >= 0),
  facts               JSONB NOT NULL,
  first_occurred_at   TIMESTAMPTZ NOT NULL,
  last_occurred_at    TIMESTAMPTZ NOT NULL,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, transaction_id)
);
CREATE INDEX transactions_provider_last_occurred_idx ON ledger.transactions (provider, last_occurred_at, transaction_id);

-- Balanced double-entry postings: each debits one account and credits another of the
-- same asset with the same positive amount.
CREATE TABLE ledger.postings (
  posting_id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider            TEXT NOT NULL,
  event_id            TEXT NOT NULL,
  transaction_id      TEXT NOT NULL,
  asset               TEXT NOT NULL,
  debit_account_id    TEXT NOT NULL,
  credit_account_id   TEXT NOT NULL,
  amount              NUMERIC NOT NULL CHECK (amount > 0 AND scale(amount) <= 18),
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK (debit_account_id <> credit_account_id)
);
-- No foreign keys to ledger.accounts on this append-only, high-volume table: per-row FK
-- triggers cost a third of the insert. The writer creates the accounts in the same
-- database transaction, and ledgerCheck() verifies that every posting names an existing
-- account of its own asset (posting_unknown_account / posting_asset_mismatch).

-- Materialised wallet buckets (= balances of the wallet accounts), versioned per (wallet, asset).
-- available may be negative (documented: a withdrawal can be projected before the deposit
-- that funds it when events of different transactions arrive out of order).
CREATE TABLE ledger.balances (
  wallet_id   TEXT NOT NULL,
  asset       TEXT NOT NULL,
  pending     NUMERIC NOT NULL DEFAULT 0 CHECK (pending >= 0 AND scale(pending) <= 18),
  available   NUMERIC NOT NULL DEFAULT 0 CHECK (scale(available) <= 18),
  held        NUMERIC NOT NULL DEFAULT 0 CHECK (held >= 0 AND scale(held) <= 18),
  version     BIGINT NOT NULL DEFAULT 0 CHECK (version >= 0),
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (wallet_id, asset)
);

-- Every event the projector has processed, exactly once per (provider, event_id), with
-- everything its handler result was made of (outcome, status, the BalanceChanged values),
-- so a redelivery after a crash returns exactly the same outputs (src/db/project.ts
-- resultFromRow). Doubles as the per-transaction history.
CREATE TABLE ledger.processed_events (
  provider          TEXT NOT NULL,
  event_id          TEXT NOT NULL,
  event_type        TEXT NOT NULL,
  transaction_id    TEXT,
  wallet_id         TEXT,
  partition_key     TEXT NOT NULL,
  asset             TEXT,
  amount            TEXT,
  source            TEXT NOT NULL,
  decision          TEXT NOT NULL,
  outcome           TEXT NOT NULL,
  status_after      TEXT,
  postings_count    INTEGER NOT NULL DEFAULT 0,
  anomalies         TEXT,
  -- the ledger.balances.v1 record this event produced (NULL version: none)
  balance_pending   TEXT,
  balance_available TEXT,
  balance_held      TEXT,
  balance_version   BIGINT,
  changed_at_ms     BIGINT,
  occurred_at       TIMESTAMPTZ NOT NULL,
  received_at       TIMESTAMPTZ NOT NULL,
  projected_at      TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (provider, event_id)
);
CREATE INDEX processed_events_transaction_idx ON ledger.processed_events (provider, transaction_id) WHERE transaction_id IS NOT NULL;

-- Latest KYC status per customer (kyc.status_changed: status only, no postings).
CREATE TABLE ledger.kyc_statuses (
  customer_id  TEXT PRIMARY KEY,
  kyc_status   TEXT NOT NULL,
  provider     TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  occurred_at  TIMESTAMPTZ NOT NULL,
  updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Records produced outside the stream runtime (the release API) are written here in the
-- same database transaction as their effect and published to Kafka afterwards.
CREATE TABLE ledger.outbox (
  outbox_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic         TEXT NOT NULL,
  key           TEXT NOT NULL,
  value         JSONB NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  published_at  TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished_idx ON ledger.outbox (outbox_id) WHERE published_at IS NULL;

-- Down Migration
DROP SCHEMA ledger CASCADE;
