// Seeds the card schema of the local stack's database with benchmark cards.
//   pnpm exec tsx --conditions=holo-source bench/seed.ts [count=100000] [--reset]
// Bootstraps and migrates the database first (as `npm start` does), then
// inserts in one set-based INSERT ... SELECT generate_series per batch, as the
// card role. Words come from small lists so searches match realistic shares.
import pg from 'pg'
import { setupDatabase, urlForRole } from '@holo/infra'
import { ADJECTIVES, NOUNS, TAGS } from './words.js'

async function main (): Promise<void> {
  const count = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000)
  const adminUrl = process.env.DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/holo'
  await setupDatabase(adminUrl)
  const client = new pg.Client({ connectionString: urlForRole(adminUrl, 'holo_card') })
  await client.connect()
  try {
    await client.query('SET search_path TO card')
    if (process.argv.includes('--reset')) await client.query('TRUNCATE cards CASCADE')
    const started = performance.now()
    const batch = 20_000
    for (let done = 0; done < count; done += batch) {
      const n = Math.min(batch, count - done)
      // 1,000 owners; 90% public, 5% unlisted, 5% private; 1% hidden; like counts skewed; a year of creation times.
      await client.query(`
        INSERT INTO cards (id, owner_id, title, description, holo, rarity, tags, visibility, hidden_at, created_at, updated_at)
        SELECT gen_random_uuid(),
               ('00000000-0000-4000-8000-' || lpad(((random() * 999)::int)::text, 12, '0'))::uuid,
               initcap(($1::text[])[1 + (random() * (cardinality($1::text[]) - 1))::int] || ' ' || ($2::text[])[1 + (random() * (cardinality($2::text[]) - 1))::int]),
               'A ' || ($1::text[])[1 + (random() * (cardinality($1::text[]) - 1))::int] || ' card from the benchmark set, number ' || g,
               jsonb_build_object('effect', (ARRAY['rainbow','galaxy','cosmos','glitter','prism','none'])[1 + (random() * 5)::int],
                                  'intensity', round(random()::numeric, 2), 'angle', (random() * 360)::int, 'pattern', null, 'colors', '[]'::jsonb),
               (ARRAY['common','common','common','uncommon','uncommon','rare','epic','legendary'])[1 + (random() * 7)::int],
               ARRAY[($3::text[])[1 + (random() * (cardinality($3::text[]) - 1))::int], ($3::text[])[1 + (random() * (cardinality($3::text[]) - 1))::int]],
               CASE WHEN random() < 0.9 THEN 'public' WHEN random() < 0.5 THEN 'unlisted' ELSE 'private' END,
               CASE WHEN random() < 0.01 THEN now() END,
               ts, ts
        FROM (SELECT g, now() - random() * interval '365 days' AS ts FROM generate_series(1, $4::int) AS g) AS s`,
      [ADJECTIVES, NOUNS, TAGS, n])
      process.stdout.write(`inserted ${done + n}/${count}\r`)
    }
    // Like counts skewed (a few cards are very popular); the insert trigger made their rows.
    await client.query('UPDATE card_like_counts SET like_count = (power(random(), 4) * 5000)::int WHERE like_count = 0')
    // The API stores each tag once; match it.
    await client.query('UPDATE cards SET tags = ARRAY(SELECT DISTINCT unnest(tags)) WHERE cardinality(tags) = 2 AND tags[1] = tags[2]')
    // VACUUM also flushes the GIN pending lists the bulk insert left behind (searches scan them linearly).
    await client.query('VACUUM ANALYZE cards')
    await client.query('VACUUM ANALYZE card_like_counts')
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM cards')
    process.stdout.write(`\nseeded ${count} cards in ${Math.round(performance.now() - started)} ms; the card schema now holds ${rows[0]?.n ?? 0}\n`)
  } finally {
    await client.end()
  }
}

await main()
