-- The billing service's data (docs/billing.md): Stripe customers, checkouts, payments, the author earnings
-- ledger, entitlements, Holo+ subscriptions, the Stripe events already handled, and the event outbox.
-- Amounts are integers in minor units of their currency (ISO 4217, lower case), never floats. Text columns hold
-- the values the repository writes (product 'template' | 'holo-plus', ledger kind 'sale' | 'refund', account
-- 'customer' | 'stripe' | 'platform' | 'author'); the schemas and the repository are their guard.

-- One Stripe customer per user, made at their first checkout.
CREATE TABLE customers (
  user_id uuid PRIMARY KEY,
  stripe_customer_id text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A checkout the service started. The price is copied here and into the Stripe session when it starts: a
-- later change of the template's price never changes what this checkout charges. At most one open checkout
-- per user and product: a double click finds it, and its id is the Stripe idempotency key.
CREATE TABLE checkouts (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  product text NOT NULL,
  target text NOT NULL,
  template_id uuid,
  author_id uuid,
  amount integer NOT NULL CHECK (amount > 0),
  currency text NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'superseded')),
  stripe_session_id text UNIQUE,
  url text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX checkouts_open_idx ON checkouts (user_id, target) WHERE status = 'open';

-- Money received: a template bought (one PaymentIntent) or a Holo+ invoice paid.
CREATE TABLE payments (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  product text NOT NULL,
  template_id uuid,
  author_id uuid,
  checkout_id uuid,
  amount integer NOT NULL CHECK (amount >= 0),
  currency text NOT NULL,
  platform_fee integer NOT NULL CHECK (platform_fee >= 0),
  stripe_fee integer CHECK (stripe_fee >= 0),
  author_net integer NOT NULL CHECK (author_net >= 0),
  status text NOT NULL DEFAULT 'succeeded' CHECK (status IN ('succeeded', 'refunded')),
  stripe_payment_intent text UNIQUE,
  stripe_invoice text UNIQUE,
  stripe_subscription text,
  created_at timestamptz NOT NULL DEFAULT now(),
  refunded_at timestamptz,
  refunded_by uuid
);
CREATE INDEX payments_user_idx ON payments (user_id, created_at DESC, id DESC);
CREATE INDEX payments_created_idx ON payments (created_at);

-- Double-entry ledger: each payment writes entries that sum to zero (the customer pays the gross; Stripe,
-- the platform and the author receive their parts); a refund writes the same entries negated.
CREATE TABLE ledger_entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payment_id uuid NOT NULL REFERENCES payments (id),
  kind text NOT NULL,
  account text NOT NULL,
  author_id uuid,
  amount bigint NOT NULL,
  currency text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payment_id, kind, account)
);
CREATE INDEX ledger_entries_author_idx ON ledger_entries (author_id, created_at DESC, id DESC) WHERE account = 'author';
CREATE INDEX ledger_entries_created_idx ON ledger_entries (created_at);

-- Who may use what, until when (valid_until NULL: for good). One row per user and template, and one per user
-- for Holo+; a grant after a revocation reuses the row (its id is the events' subject).
CREATE TABLE entitlements (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  product text NOT NULL,
  target text NOT NULL,
  template_id uuid,
  payment_id uuid,
  stripe_subscription text,
  valid_until timestamptz,
  revoked_at timestamptz,
  revoked_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, target)
);

-- Holo+ subscriptions as Stripe last reported them (fetched again on every event, so the order of events
-- does not matter).
CREATE TABLE subscriptions (
  id uuid PRIMARY KEY,
  stripe_subscription_id text NOT NULL UNIQUE,
  user_id uuid NOT NULL,
  status text NOT NULL,
  current_period_end timestamptz,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id);

-- Stripe events handled, recorded in the transaction of their effect: a repeat finds its id and changes nothing.
CREATE TABLE stripe_events (
  id text PRIMARY KEY,
  type text NOT NULL,
  stripe_created timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- The event outbox (OUTBOX_DDL of @holo/events, as it is).
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
