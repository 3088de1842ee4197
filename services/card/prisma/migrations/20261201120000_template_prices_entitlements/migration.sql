-- Premium templates get a price (docs/card.md, docs/billing.md): an integer amount in minor units and an ISO
-- currency in lower case, both or neither, and only on a premium template.
ALTER TABLE templates
  ADD COLUMN price_amount integer,
  ADD COLUMN price_currency text,
  ADD CONSTRAINT templates_price_whole CHECK ((price_amount IS NULL) = (price_currency IS NULL)),
  ADD CONSTRAINT templates_price_positive CHECK (price_amount IS NULL OR price_amount BETWEEN 1 AND 100000000),
  ADD CONSTRAINT templates_price_currency CHECK (price_currency IS NULL OR price_currency ~ '^[a-z]{3}$'),
  ADD CONSTRAINT templates_price_premium CHECK (price_amount IS NULL OR premium);

-- The card service's own copy of billing's entitlements, fed by holo.entitlement.granted.v1 / .revoked.v1 on
-- the bus: who may use which premium template (template_id), or every one (product 'holo-plus'), until when.
-- Each row keeps the subjectseq of the event that set it: an older event arriving later changes nothing.
CREATE TABLE entitlements (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  product text NOT NULL,
  template_id uuid,
  valid_until timestamptz,
  revoked boolean NOT NULL DEFAULT false,
  seq bigint,
  event_time timestamptz NOT NULL
);
CREATE INDEX entitlements_user_idx ON entitlements (user_id);

-- Effect once: the events the card's consumer group applied (APPLIED_EVENTS_DDL of @holo/events, as it is).
CREATE TABLE applied_events (
  consumer_group text NOT NULL,
  event_id uuid NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, event_id)
);
