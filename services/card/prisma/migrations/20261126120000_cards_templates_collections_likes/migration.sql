-- DropIndex
DROP INDEX "cards_visibility_created_at_id_idx";

-- AlterTable
ALTER TABLE "cards" ADD COLUMN     "version" INTEGER NOT NULL DEFAULT 1;

-- CreateTable
CREATE TABLE "templates" (
    "id" UUID NOT NULL,
    "author_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "layout" JSONB NOT NULL,
    "holo_defaults" JSONB NOT NULL DEFAULT '{}',
    "status" TEXT NOT NULL DEFAULT 'draft',
    "premium" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "templates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "collections" (
    "id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "visibility" TEXT NOT NULL DEFAULT 'public',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "collections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "collection_cards" (
    "collection_id" UUID NOT NULL,
    "card_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "collection_cards_pkey" PRIMARY KEY ("collection_id","card_id")
);

-- CreateTable
CREATE TABLE "likes" (
    "user_id" UUID NOT NULL,
    "card_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "likes_pkey" PRIMARY KEY ("user_id","card_id")
);

-- CreateIndex
CREATE INDEX "cards_template_id_idx" ON "cards"("template_id");

-- CreateIndex
CREATE INDEX "templates_status_created_at_id_idx" ON "templates"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "templates_author_id_created_at_id_idx" ON "templates"("author_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "collections_owner_id_created_at_id_idx" ON "collections"("owner_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "collection_cards_collection_id_position_idx" ON "collection_cards"("collection_id", "position");

-- CreateIndex
CREATE INDEX "collection_cards_card_id_idx" ON "collection_cards"("card_id");

-- CreateIndex
CREATE INDEX "likes_card_id_idx" ON "likes"("card_id");

-- AddForeignKey
ALTER TABLE "collection_cards" ADD CONSTRAINT "collection_cards_collection_id_fkey" FOREIGN KEY ("collection_id") REFERENCES "collections"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "collection_cards" ADD CONSTRAINT "collection_cards_card_id_fkey" FOREIGN KEY ("card_id") REFERENCES "cards"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "likes" ADD CONSTRAINT "likes_card_id_fkey" FOREIGN KEY ("card_id") REFERENCES "cards"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------
-- Below: what Prisma cannot express (hand-written; the schema marks `search`
-- as Unsupported and does not list these indexes).
-- ---------------------------------------------------------------------------

-- Full-text document: title (A), tags (B), description (C). 'simple' keeps
-- words as typed (no stemming), which suits names and prefix matching.
ALTER TABLE "cards" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, "title"), 'A') ||
    setweight(array_to_tsvector("tags"), 'B') ||
    setweight(to_tsvector('simple'::regconfig, "description"), 'C')
) STORED;

CREATE INDEX "cards_search_idx" ON "cards" USING GIN ("search");
-- Typo tolerance on titles (pg_trgm lives in public).
CREATE INDEX "cards_title_trgm_idx" ON "cards" USING GIN ("title" public.gin_trgm_ops);
CREATE INDEX "cards_tags_idx" ON "cards" USING GIN ("tags");

-- Public listings only ever read listable rows: partial indexes per sort and filter.
CREATE INDEX "cards_listed_new_idx" ON "cards" ("created_at" DESC, "id" DESC)
    WHERE "visibility" = 'public' AND "hidden_at" IS NULL AND "deleted_at" IS NULL;
CREATE INDEX "cards_listed_popular_idx" ON "cards" ("like_count" DESC, "id" DESC)
    WHERE "visibility" = 'public' AND "hidden_at" IS NULL AND "deleted_at" IS NULL;
CREATE INDEX "cards_listed_rarity_new_idx" ON "cards" ("rarity", "created_at" DESC, "id" DESC)
    WHERE "visibility" = 'public' AND "hidden_at" IS NULL AND "deleted_at" IS NULL;
CREATE INDEX "cards_listed_effect_new_idx" ON "cards" (("holo" ->> 'effect'), "created_at" DESC, "id" DESC)
    WHERE "visibility" = 'public' AND "hidden_at" IS NULL AND "deleted_at" IS NULL;
CREATE INDEX "cards_listed_template_new_idx" ON "cards" ("template_id", "created_at" DESC, "id" DESC)
    WHERE "visibility" = 'public' AND "hidden_at" IS NULL AND "deleted_at" IS NULL;
CREATE INDEX "cards_listed_owner_new_idx" ON "cards" ("owner_id", "created_at" DESC, "id" DESC)
    WHERE "visibility" = 'public' AND "hidden_at" IS NULL AND "deleted_at" IS NULL;
CREATE INDEX "templates_name_trgm_idx" ON "templates" USING GIN ("name" public.gin_trgm_ops);

-- The rules the API enforces, kept true by the database as well.
ALTER TABLE "cards" ADD CONSTRAINT "cards_visibility_check" CHECK ("visibility" IN ('public', 'unlisted', 'private'));
ALTER TABLE "cards" ADD CONSTRAINT "cards_rarity_check" CHECK ("rarity" IN ('common', 'uncommon', 'rare', 'epic', 'legendary'));
ALTER TABLE "cards" ADD CONSTRAINT "cards_title_length_check" CHECK (char_length("title") BETWEEN 1 AND 120);
ALTER TABLE "cards" ADD CONSTRAINT "cards_description_length_check" CHECK (char_length("description") <= 2000);
ALTER TABLE "cards" ADD CONSTRAINT "cards_tags_count_check" CHECK (cardinality("tags") <= 10);
ALTER TABLE "cards" ADD CONSTRAINT "cards_like_count_check" CHECK ("like_count" >= 0);
ALTER TABLE "templates" ADD CONSTRAINT "templates_status_check" CHECK ("status" IN ('draft', 'published', 'archived'));
ALTER TABLE "collections" ADD CONSTRAINT "collections_visibility_check" CHECK ("visibility" IN ('public', 'unlisted', 'private'));
