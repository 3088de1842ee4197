-- Hand-written (Prisma cannot express partial indexes): the public collection listing.
CREATE INDEX "collections_listed_idx" ON "collections" ("created_at" DESC, "id" DESC) WHERE "visibility" = 'public';
