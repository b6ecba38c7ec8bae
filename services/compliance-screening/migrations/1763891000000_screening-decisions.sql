-- Up Migration
-- One row per screened event (provider, event_id): the decision, stored so a
-- replayed or re-delivered event gets the identical decision back, and the
-- window facts (wallet, occurred_at, value) that velocity and structuring rules read.
CREATE TABLE screening_decisions (
  provider            text        NOT NULL,
  event_id            text        NOT NULL,
  window_key          text        NOT NULL,
  transaction_id      text,
  event_type          text        NOT NULL,
  occurred_at_ms      bigint      NOT NULL,
  -- Value in the rules' reference currency; NULL when the asset had no price.
  amount_ref          numeric,
  -- Transaction events with an amount count in velocity/structuring windows.
  counts_in_windows   boolean     NOT NULL,
  decision            text        NOT NULL CHECK (decision IN ('ALLOW', 'REVIEW', 'BLOCK')),
  screening           jsonb       NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, event_id),
  CHECK (NOT counts_in_windows OR transaction_id IS NOT NULL)
);

CREATE INDEX screening_decisions_window_idx
  ON screening_decisions (window_key, occurred_at_ms)
  WHERE counts_in_windows;

-- Down Migration
DROP TABLE screening_decisions;
