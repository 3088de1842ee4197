-- Like counts move out of the wide, heavily indexed cards row into a narrow
-- table of their own. A like used to update cards.like_count, which the
-- popular index holds, so every like wrote a new entry into each of the
-- card's indexes (three of them GIN) and filled the GIN pending lists whose
-- cleanup stalled unlucky requests for seconds. Now a like updates a narrow
-- row (card id, count) and its two index entries; the card row is untouched.

-- CreateTable
CREATE TABLE "card_like_counts" (
    "card_id" UUID NOT NULL,
    "like_count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "card_like_counts_pkey" PRIMARY KEY ("card_id")
);

-- CreateIndex
CREATE INDEX "card_like_counts_like_count_card_id_idx" ON "card_like_counts"("like_count" DESC, "card_id" DESC);

-- AddForeignKey
ALTER TABLE "card_like_counts" ADD CONSTRAINT "card_like_counts_card_id_fkey" FOREIGN KEY ("card_id") REFERENCES "cards"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written from here (Prisma cannot express these).
ALTER TABLE "card_like_counts" ADD CONSTRAINT "card_like_counts_like_count_check" CHECK ("like_count" >= 0);

INSERT INTO "card_like_counts" ("card_id", "like_count") SELECT "id", "like_count" FROM "cards";

-- Every card has its count row from the statement that inserts it, whichever
-- path inserts it (the service, a seed, a restore).
CREATE FUNCTION "card_like_count_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "card_like_counts" ("card_id") SELECT "id" FROM "new_cards";
  RETURN NULL;
END
$$;
CREATE TRIGGER "cards_like_count_rows" AFTER INSERT ON "cards"
  REFERENCING NEW TABLE AS "new_cards" FOR EACH STATEMENT EXECUTE FUNCTION "card_like_count_rows"();

DROP INDEX "cards_listed_popular_idx";
ALTER TABLE "cards" DROP CONSTRAINT "cards_like_count_check";
ALTER TABLE "cards" DROP COLUMN "like_count";
