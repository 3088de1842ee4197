-- CreateTable
CREATE TABLE "cards" (
    "id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "title" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "template_id" UUID,
    "artwork_file_id" UUID,
    "holo" JSONB NOT NULL DEFAULT '{}',
    "rarity" TEXT NOT NULL DEFAULT 'common',
    "tags" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "visibility" TEXT NOT NULL DEFAULT 'public',
    "like_count" INTEGER NOT NULL DEFAULT 0,
    "hidden_at" TIMESTAMPTZ(3),
    "deleted_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "cards_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "cards_owner_id_created_at_id_idx" ON "cards"("owner_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "cards_visibility_created_at_id_idx" ON "cards"("visibility", "created_at" DESC, "id" DESC);
