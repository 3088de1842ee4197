-- The notification service's data (docs/notifications.md).

-- Effect once: the events the consumer group applied (APPLIED_EVENTS_DDL of @holo/events, as it is).
CREATE TABLE applied_events (
  consumer_group text NOT NULL,
  event_id uuid NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, event_id)
);

-- Directories built from events. Each field set by a subject's events keeps the subjectseq that set it, so an
-- older event arriving later changes nothing.
CREATE TABLE users (
  user_id uuid PRIMARY KEY,
  email text,
  email_seq bigint,
  username text,
  display_name text,
  names_seq bigint,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cards (
  card_id uuid PRIMARY KEY,
  owner_id uuid,
  title text,
  title_seq bigint,
  visibility text CHECK (visibility IN ('public', 'unlisted', 'private')),
  visibility_seq bigint,
  hidden boolean NOT NULL DEFAULT false,
  hidden_seq bigint,
  deleted boolean NOT NULL DEFAULT false,
  template_id uuid
);

CREATE INDEX cards_template_id_idx ON cards (template_id);

CREATE TABLE templates (
  template_id uuid PRIMARY KEY,
  name text
);

CREATE TABLE collections (
  collection_id uuid PRIMARY KEY,
  owner_id uuid,
  name text,
  visibility text CHECK (visibility IN ('public', 'unlisted', 'private'))
);

-- The inbox. Ids are UUIDv7, and per user they grow in commit order (inbox_heads): a client that has seen id X
-- has missed exactly the rows with a greater id. A notification that changes is deleted and inserted again
-- with a new id.
CREATE TABLE notifications (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  type text NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  read_at timestamptz
);

CREATE INDEX notifications_user_id_id_idx ON notifications (user_id, id DESC);

CREATE TABLE inbox_heads (
  user_id uuid PRIMARY KEY,
  last_id uuid NOT NULL
);

-- Likes of one card within a window from the first like, collapsed into one notification of the card's owner.
CREATE TABLE like_groups (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  card_id uuid NOT NULL,
  started_at timestamptz NOT NULL,
  notification_id uuid
);

CREATE INDEX like_groups_user_id_card_id_started_at_idx ON like_groups (user_id, card_id, started_at);

CREATE TABLE like_group_actors (
  group_id uuid NOT NULL REFERENCES like_groups (id) ON DELETE CASCADE,
  actor_id uuid NOT NULL,
  liked_at timestamptz NOT NULL,
  PRIMARY KEY (group_id, actor_id)
);

-- Overrides of the default preferences (type is checked by the API, not here).
CREATE TABLE preferences (
  user_id uuid NOT NULL,
  type text NOT NULL,
  in_app boolean NOT NULL,
  email boolean NOT NULL,
  PRIMARY KEY (user_id, type)
);

-- Mail to send: written in the transaction of the effect, sent by the email job once it committed.
CREATE TABLE email_items (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  type text NOT NULL,
  notification_id uuid,
  subject text NOT NULL,
  text text NOT NULL,
  html text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX email_items_user_id_type_created_at_idx ON email_items (user_id, type, created_at);
CREATE INDEX email_items_notification_id_idx ON email_items (notification_id);

-- Per user and type: when the pending mail is due (null: nothing pending) and when the last one went.
CREATE TABLE email_schedules (
  user_id uuid NOT NULL,
  type text NOT NULL,
  due_at timestamptz,
  last_sent_at timestamptz,
  PRIMARY KEY (user_id, type)
);

CREATE INDEX email_schedules_due_at_idx ON email_schedules (due_at);
