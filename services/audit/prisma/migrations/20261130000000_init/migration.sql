-- The audit service's log (docs/audit.md): append-only, one row per event of the bus, each row chained to the
-- previous one by a sha256 hash. Unqualified: the migration runner and `prisma migrate deploy` set the schema.

CREATE TABLE audit_log (
  seq bigint PRIMARY KEY CHECK (seq >= 1),
  id uuid NOT NULL,
  type text NOT NULL,
  type_name text NOT NULL,
  source text NOT NULL,
  subject text NOT NULL,
  actor_id uuid,
  time timestamptz(3) NOT NULL,
  request_id text,
  ip text,
  traceparent text,
  subject_seq bigint,
  data jsonb NOT NULL,
  recorded_at timestamptz(3) NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  CONSTRAINT audit_log_id_key UNIQUE (id),
  CONSTRAINT audit_log_type_name_check CHECK (type = type_name || substring(type FROM '\.v[0-9]+$'))
);

-- Newest first (time, id) under each filter of GET /api/v1/audit/events.
CREATE INDEX audit_log_time_idx ON audit_log (time DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, time DESC, id DESC);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, time DESC, id DESC);
CREATE INDEX audit_log_type_idx ON audit_log (type_name, time DESC, id DESC);

-- Append-only: any UPDATE, DELETE or TRUNCATE statement is refused, whether it would touch rows or not.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE applied_events (
  consumer_group text NOT NULL,
  event_id uuid NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, event_id)
);
