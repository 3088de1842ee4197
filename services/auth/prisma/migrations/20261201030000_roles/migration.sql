-- Permissions managed at run time (issue 15): roles become data, each a set of the permissions listed in
-- @holo/shared (packages/shared/src/auth/permissions.ts). Seeded with the built-in roles; `users.roles` keeps
-- naming them. A later version that adds a permission grants it to `admin` in its own migration.
-- Expand only: the running version never reads the new table or sequence.
CREATE TABLE "roles" (
    "name" TEXT NOT NULL,
    "permissions" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "built_in" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "roles_pkey" PRIMARY KEY ("name")
);

-- The registry's version in Redis: every change of `roles` (and every start of the service) takes the next one.
CREATE SEQUENCE "roles_version";

INSERT INTO "roles" ("name", "permissions", "built_in") VALUES
    ('user', ARRAY[]::TEXT[], true),
    ('creator', ARRAY['templates.publish']::TEXT[], true),
    ('moderator', ARRAY['cards.hide', 'cards.delete_any', 'reports.resolve', 'users.read', 'audit.read']::TEXT[], true),
    ('admin', ARRAY['cards.hide', 'cards.delete_any', 'cards.read_any', 'reports.resolve', 'templates.publish', 'templates.manage', 'collections.delete_any', 'files.read_any', 'files.manage_any', 'files.unlimited', 'users.read', 'users.disable', 'users.roles', 'billing.read', 'billing.refund', 'audit.read', 'audit.read_all', 'analytics.read', 'events.manage']::TEXT[], true);
