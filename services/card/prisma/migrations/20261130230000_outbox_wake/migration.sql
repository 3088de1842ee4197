-- The relays are woken after the producer's commit (in-process, plus one
-- coalesced pg_notify outside the data transaction), no longer by a NOTIFY in
-- every producing transaction, which serialised those commits on PostgreSQL's
-- database-wide notify lock.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
