-- Cookie sign-in for browsers (issue 15): a session opened with mode "cookie" keeps
-- the SHA-256 of its CSRF token; refresh and logout from the cookie must present it.
-- Expand only: null for every JSON-mode session, which the running version ignores.
ALTER TABLE "sessions" ADD COLUMN "csrf_hash" TEXT;
