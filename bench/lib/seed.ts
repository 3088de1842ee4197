// The benchmark's own data set: users registered through the API (real
// argon2 hashes and sessions), cards inserted in bulk as the card role, and
// images uploaded through the API.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import sharp from 'sharp'
import { urlForRole } from '@holo/infra'

export interface BenchUser { id: string, email: string, password: string, accessToken: string, refreshToken: string }

export const WORDS = ['aurora', 'nebula', 'dragon', 'phoenix', 'crystal', 'shadow', 'ember', 'tidal', 'storm', 'lunar',
  'solar', 'prism', 'galaxy', 'cosmic', 'frost', 'blaze', 'spirit', 'titan', 'mystic', 'neon']

async function json<T> (res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

export async function registerUsers (authUrl: string, count: number, runId: string): Promise<BenchUser[]> {
  const users: BenchUser[] = []
  for (let i = 0; i < count; i++) {
    const email = `bench-${runId}-${i}@bench.holo.cards`
    const password = `bench-password-${runId}-${i}`
    const body = await json<{ user: { id: string }, accessToken: string, refreshToken: string }>(await fetch(`${authUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password, username: `bench_${runId}_${i}`.slice(0, 32) })
    }), 'register')
    users.push({ id: body.user.id, email, password, accessToken: body.accessToken, refreshToken: body.refreshToken })
  }
  return users
}

export async function login (authUrl: string, u: BenchUser): Promise<{ accessToken: string, refreshToken: string }> {
  return await json(await fetch(`${authUrl}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: u.email, password: u.password })
  }), 'login')
}

/**
 * Gives every user a fresh token pair through their own session: access tokens live 15 minutes, less than a long
 * run, and a scenario signing in with expired ones would measure 401s.
 */
export async function renewTokens (authUrl: string, users: BenchUser[]): Promise<void> {
  for (const u of users) {
    const body = JSON.stringify({ refreshToken: u.refreshToken })
    const headers = { 'content-type': 'application/json' }
    const res = await fetch(`${authUrl}/api/v1/auth/refresh`, { method: 'POST', headers, body })
    const tokens = await json<{ accessToken: string, refreshToken: string }>(res, 'refresh')
    u.accessToken = tokens.accessToken
    u.refreshToken = tokens.refreshToken
  }
}

/** Bulk-inserts public cards (as holo_card) until the table holds at least `total`; returns their ids, shuffled (the uncached scenario walks them once). */
/** Tops the card table up to `total` cards; returns the listable ids and how many cards the table holds. */
/**
 * VACUUM (ANALYZE) of the whole bench database. The machine's PostgreSQL runs with autovacuum off (a setting of
 * these CI machines, not of production), so without this the dead rows every write scenario leaves (the outbox's
 * sent marks, like counts, replaced cache rows) pile up over runs, and each run measures a more bloated database
 * than one whose autovacuum keeps up. Returns the milliseconds it took.
 */
export async function vacuum (adminUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const started = performance.now()
    await client.query('VACUUM (ANALYZE)')
    return Math.round(performance.now() - started)
  } finally {
    await client.end()
  }
}

export async function seedCards (adminUrl: string, ownerIds: string[], total: number): Promise<{ ids: string[], count: number }> {
  const client = new pg.Client({ connectionString: urlForRole(adminUrl, 'holo_card') })
  await client.connect()
  try {
    await client.query('SET search_path TO card')
    const { rows: [row] } = await client.query<{ n: string }>('SELECT count(*) AS n FROM cards')
    let have = Number(row?.n ?? 0)
    const batch = 10_000
    while (have < total) {
      const n = Math.min(batch, total - have)
      await client.query(`
        INSERT INTO cards (id, owner_id, title, description, rarity, tags, visibility, holo, created_at, updated_at)
        SELECT gen_random_uuid(),
               ($1::uuid[])[1 + (g % array_length($1::uuid[], 1))],
               initcap(($2::text[])[1 + (g % 20)]) || ' ' || initcap(($2::text[])[1 + ((g / 20) % 20)]) || ' #' || g,
               'A ' || ($2::text[])[1 + ((g / 7) % 20)] || ' card from the benchmark set',
               (ARRAY['common','uncommon','rare','epic','legendary'])[1 + (g % 5)],
               ARRAY[($2::text[])[1 + ((g / 3) % 20)], ($2::text[])[1 + ((g / 11) % 20)]],
               'public',
               jsonb_build_object('effect', (ARRAY['rainbow','galaxy','cosmos','glitter','prism','none'])[1 + (g % 6)], 'intensity', 0.5, 'angle', 45, 'colors', '[]'::jsonb),
               now() - (g || ' seconds')::interval, now()
        FROM generate_series($3::int, $3::int + $4::int - 1) AS g`, [ownerIds, WORDS, have, n])
      have += n
    }
    await client.query('ANALYZE cards')
    const ids = await client.query<{ id: string }>('SELECT id FROM cards WHERE visibility = \'public\' AND hidden_at IS NULL AND deleted_at IS NULL ORDER BY random() LIMIT 200000')
    return { ids: ids.rows.map((r) => r.id), count: have }
  } finally {
    await client.end()
  }
}

/** Distinct PNGs of about `bytes` each (noise does not compress, so size ≈ pixels × 3). */
export async function makeImages (count: number, bytes: number): Promise<Buffer[]> {
  const side = Math.max(8, Math.round(Math.sqrt(bytes / 3)))
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const raw = Buffer.alloc(side * side * 3)
    for (let j = 0; j < raw.length; j += 4) raw.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, Math.min(j, raw.length - 4))
    out.push(await sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer())
  }
  return out
}

export function multipart (file: Buffer, filename: string, contentType: string): { body: Buffer, contentType: string } {
  const boundary = `----holo-bench-${randomUUID()}`
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nartwork\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return { body: Buffer.concat([head, file, tail]), contentType: `multipart/form-data; boundary=${boundary}` }
}

export async function uploadFiles (fileUrl: string, token: string, images: Buffer[]): Promise<string[]> {
  const ids: string[] = []
  for (const [i, img] of images.entries()) {
    const { body, contentType } = multipart(img, `seed-${i}.png`, 'image/png')
    const res = await json<{ id: string }>(await fetch(`${fileUrl}/api/v1/files`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body: new Uint8Array(body)
    }), 'upload')
    ids.push(res.id)
  }
  return ids
}
