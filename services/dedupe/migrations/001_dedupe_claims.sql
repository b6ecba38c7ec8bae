-- One row per provider event ever passed through dedupe (within the window): the
-- source coordinates of its first delivery. A record is the first delivery iff the
-- claim holds its own coordinates, so a crash before the Kafka commit re-emits it on
-- replay while a true redelivery never passes.
CREATE TABLE dedupe_claims (
  provider text NOT NULL,
  event_id text NOT NULL,
  source_topic text NOT NULL,
  source_partition int NOT NULL,
  source_offset bigint NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, event_id)
);
-- Purging expired claims scans by age.
CREATE INDEX dedupe_claims_claimed_at ON dedupe_claims (claimed_at);
