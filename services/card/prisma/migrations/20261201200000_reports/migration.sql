-- Reports of cards by users, and their resolution by moderators (docs/card.md, "Reports and moderation").
CREATE TABLE reports (
  id uuid PRIMARY KEY,
  card_id uuid NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
  reporter_id uuid NOT NULL,
  reason text NOT NULL DEFAULT 'other',
  note text,
  status text NOT NULL DEFAULT 'open',
  -- This report was the one that reached the threshold and hid the card pending review.
  auto_hid boolean NOT NULL DEFAULT false,
  action text,
  resolution_note text,
  resolved_by uuid,
  resolved_at timestamptz(3),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  CONSTRAINT reports_reason CHECK (reason IN ('spam', 'nsfw', 'copyright', 'harassment', 'other')),
  CONSTRAINT reports_note_length CHECK (char_length(note) <= 1000 AND char_length(resolution_note) <= 1000),
  CONSTRAINT reports_status CHECK (status IN ('open', 'resolved')),
  CONSTRAINT reports_resolution CHECK (
    (status = 'open' AND action IS NULL AND resolved_at IS NULL AND resolved_by IS NULL)
    OR (status = 'resolved' AND action IN ('hide', 'dismiss', 'warn') AND resolved_at IS NOT NULL
      AND resolved_by IS NOT NULL))
);

-- One open report per user and card: the database refuses a second one, whatever the timing of the requests.
-- ModerationRepository.insert names this predicate in its ON CONFLICT: keep both textually identical.
CREATE UNIQUE INDEX reports_open_once_idx ON reports (card_id, reporter_id) WHERE status = 'open';
-- The queue: groups of a card by status, oldest first; and every report of a card.
CREATE INDEX reports_queue_idx ON reports (status, card_id, created_at);
CREATE INDEX reports_card_idx ON reports (card_id, created_at);
