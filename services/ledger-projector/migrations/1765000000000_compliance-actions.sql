-- Up Migration
-- The decision history of compliance officers: every release, escalation and note on a
-- transaction, with who, when and why (also published to audit.v1 through the outbox).
CREATE TABLE ledger.compliance_actions (
  action_id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider        TEXT NOT NULL,
  transaction_id  TEXT NOT NULL,
  action          TEXT NOT NULL CHECK (action IN ('released', 'escalated', 'noted', 'release_requested')),
  actor           TEXT NOT NULL,
  reason          TEXT CHECK (reason IS NULL OR length(reason) <= 1000),
  request_id      TEXT NOT NULL,
  at              TIMESTAMPTZ NOT NULL,
  details         JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX compliance_actions_tx ON ledger.compliance_actions (provider, transaction_id, action_id);
CREATE INDEX compliance_actions_at ON ledger.compliance_actions (at DESC);

-- The compliance queue reads the (few) transactions screening did not ALLOW.
CREATE INDEX transactions_flagged ON ledger.transactions (created_at DESC) WHERE decision <> 'ALLOW';

-- Down Migration
DROP INDEX IF EXISTS ledger.transactions_flagged;
DROP TABLE IF EXISTS ledger.compliance_actions;
