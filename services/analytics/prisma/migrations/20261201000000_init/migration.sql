-- The analytics service's read models, built from the event bus (docs/analytics.md).

-- Effect once: the events the consumer group applied (APPLIED_EVENTS_DDL of @holo/events, as it is).
CREATE TABLE applied_events (
  consumer_group text NOT NULL,
  event_id uuid NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, event_id)
);

-- Additive platform counters per UTC hour and per UTC day (granularity 'hour' or 'day'; only the consumer
-- writes them). Increments commute, so the result does not depend on the order events arrive in.
-- bytes_delta is bytes uploaded minus bytes deleted (bytesStored sums it).
CREATE TABLE rollups (
  granularity text NOT NULL,
  metric text NOT NULL,
  bucket timestamptz NOT NULL,
  value bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (granularity, metric, bucket)
);

-- Who acted in each bucket: the first row of a user in a bucket adds one to the active_users rollup.
CREATE TABLE active_users (
  granularity text NOT NULL,
  bucket timestamptz NOT NULL,
  user_id uuid NOT NULL,
  PRIMARY KEY (granularity, bucket, user_id)
);

-- What the top lists must know about each card, from card events. Each field keeps the subjectseq (and time)
-- of the event that set it, so an older update arriving later is ignored.
CREATE TABLE cards (
  card_id uuid PRIMARY KEY,
  owner_id uuid,
  visibility text CHECK (visibility IN ('public', 'unlisted', 'private')),
  visibility_seq bigint,
  visibility_time timestamptz,
  hidden boolean NOT NULL DEFAULT false,
  hidden_seq bigint,
  hidden_time timestamptz,
  deleted boolean NOT NULL DEFAULT false,
  created_at timestamptz
);

-- Per card and UTC hour: views and likes given and taken back (days are sums of their hours).
CREATE TABLE card_hourly (
  card_id uuid NOT NULL,
  bucket timestamptz NOT NULL,
  views bigint NOT NULL DEFAULT 0,
  likes bigint NOT NULL DEFAULT 0,
  unlikes bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (card_id, bucket)
);

CREATE INDEX card_hourly_bucket_idx ON card_hourly (bucket);
