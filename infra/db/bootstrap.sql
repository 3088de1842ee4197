-- Holo Cards database bootstrap: one database, one schema and one role per service.
-- Run as a superuser on the target database; idempotent. Roles are cluster-wide;
-- schemas and grants are per database. Passwords are set separately (never here).
DO $$
DECLARE
  svc text;
BEGIN
  FOREACH svc IN ARRAY ARRAY['auth', 'card', 'file', 'notification', 'analytics', 'audit', 'billing'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'holo_' || svc) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', 'holo_' || svc);
    END IF;
    -- Prisma's adapter has had trouble honouring a non-public schema: make it the role's default too.
    EXECUTE format('ALTER ROLE %I SET search_path = %I', 'holo_' || svc, svc);
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, 'holo_' || svc);
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', svc, 'holo_' || svc);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), 'holo_' || svc);
  END LOOP;
END
$$;

-- Nobody but the owner writes to public; each role lives in its own schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- Extensions the services use, created by the superuser into their own schemas' reach.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
