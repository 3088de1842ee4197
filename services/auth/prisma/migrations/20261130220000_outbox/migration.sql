CREATE TABLE outbox (
  id uuid PRIMARY KEY,
  stream text NOT NULL,
  type text NOT NULL,
  subject text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  sent_at timestamptz
);

CREATE INDEX outbox_unsent_idx ON outbox (created_at, id) WHERE sent_at IS NULL;

CREATE TABLE outbox_subjects (
  subject text PRIMARY KEY,
  seq bigint NOT NULL
);

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
