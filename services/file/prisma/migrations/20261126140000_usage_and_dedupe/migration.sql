-- CreateTable
CREATE TABLE "storage_usage" (
    "owner_id" UUID NOT NULL,
    "used" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "storage_usage_pkey" PRIMARY KEY ("owner_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "files_owner_id_sha256_key" ON "files"("owner_id", "sha256");
