-- Parking: records of a key that sit in the retry ladder (see src/core/ladder.ts).
CREATE TABLE stream_parked (
  group_id text NOT NULL,
  key text NOT NULL,
  source_topic text NOT NULL,
  source_partition int NOT NULL,
  source_offset bigint NOT NULL,
  rung int NOT NULL,
  attempts_made int NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Set (before the Kafka commit) by the chunk that finished the record; the row is
  -- deleted after that commit, or the mark resolved by the committed offset after a crash.
  completing_topic text NULL,
  completing_partition int NULL,
  completing_offset bigint NULL,
  PRIMARY KEY (group_id, source_topic, source_partition, source_offset)
);
CREATE INDEX stream_parked_by_key ON stream_parked (group_id, key, source_offset);
CREATE INDEX stream_parked_completing ON stream_parked (group_id, completing_topic, completing_partition) WHERE completing_topic IS NOT NULL;

-- Ownership epochs: Postgres-side fencing of a previous owner of an input partition.
CREATE TABLE stream_partition_epoch (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  epoch bigint NOT NULL,
  owner text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- Operator actions on dead letters (replay idempotency, purge).
CREATE TABLE stream_dlq_state (
  dlq_topic text NOT NULL,
  dlq_partition int NOT NULL,
  dlq_offset bigint NOT NULL,
  state text NOT NULL CHECK (state IN ('replaying', 'replayed', 'purged')),
  actor text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
