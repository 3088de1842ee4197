// The hash chain: each row's hash is sha256 over its canonical document (docs/audit.md); verify walks the chain in
// batches and names the first row that breaks it, whether a row was changed or removed behind the trigger's back.
import { createHash, randomUUID } from 'node:crypto'
import t from 'tap'
import type pg from 'pg'
import { makeEvent, type HoloEvent } from '@holo/events'
import { GENESIS_HASH, canonicalJson, entryHash } from '../src/modules/audit/audit.chain.js'
import { toChainedContent } from '../src/modules/audit/audit.mappers.js'
import { AuditRepository } from '../src/modules/audit/audit.repository.js'
import { buildTestApp, eventually, get, type TestApp } from './helper.js'

t.test('canonical JSON: sorted keys by UTF-16 code units, no whitespace, ECMAScript numbers (RFC 8785)', async (t) => {
  t.equal(canonicalJson({ b: [1, 'x', null, true], a: { d: 1e21, c: -0 }, é: 0.5, Z: 'é"\n' }),
    '{"Z":"é\\"\\n","a":{"c":0,"d":1e+21},"b":[1,"x",null,true],"é":0.5}')
  t.equal(canonicalJson({ '\u{1F600}': 1, '\uFB33': 2 }), '{"\u{1F600}":1,"\uFB33":2}', 'code units, not points')
  t.throws(() => canonicalJson({ a: undefined }))
  t.throws(() => canonicalJson(Number.NaN))
  t.throws(() => canonicalJson(1n))
})

async function logged (ta: TestApp, n: number): Promise<HoloEvent[]> {
  const events: HoloEvent[] = []
  for (let i = 0; i < n; i++) {
    const e = makeEvent('holo.card.liked.v1', {
      subject: randomUUID(),
      actorId: randomUUID(),
      requestId: `req-${i}`,
      ip: '192.0.2.1',
      // A time PostgreSQL rounds differently from JavaScript's truncation: the hash covers the stored value.
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      data: { ownerId: randomUUID(), likeCount: i, nested: { z: [i, 'ü'], a: 0.1 } } as never
    })
    events.push(e)
    await ta.publish('card', e)
  }
  if (!await eventually(async () => await ta.logCount() === n)) throw new Error('events did not reach the log')
  return events
}

interface Row {
  seq: string
  id: string
  hash: string
  prev_hash: string
  doc: string
}

t.test('a row\'s hash is sha256 over the documented canonical form, chained to the previous row', async (t) => {
  const ta = await buildTestApp(t)
  await logged(ta, 3)
  const su = await ta.superuser()
  // The document built in SQL, by hand, in the order docs/audit.md gives: an independent check of the writer.
  const { rows } = await su.query<Row>(`
    SELECT seq, id, hash, prev_hash, '{' ||
      '"actorId":' || coalesce(to_json(actor_id::text)::text, 'null') ||
      ',"data":' || data::text ||
      ',"id":' || to_json(id::text)::text ||
      ',"ip":' || coalesce(to_json(ip)::text, 'null') ||
      ',"prevHash":' || to_json(prev_hash)::text ||
      ',"recordedAt":' || to_json(to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text ||
      ',"requestId":' || coalesce(to_json(request_id)::text, 'null') ||
      ',"seq":' || seq ||
      ',"source":' || to_json(source)::text ||
      ',"subject":' || to_json(subject)::text ||
      ',"subjectSeq":' || coalesce(subject_seq::text, 'null') ||
      ',"time":' || to_json(to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text ||
      ',"traceparent":' || coalesce(to_json(traceparent)::text, 'null') ||
      ',"type":' || to_json(type)::text || '}' AS doc
    FROM audit.audit_log ORDER BY seq`)
  t.equal(rows.length, 3)
  let previous = GENESIS_HASH
  for (const r of rows) {
    // jsonb's text has spaces after separators and its own key order: canonicalise the data part the documented way.
    const doc = JSON.parse(r.doc) as Record<string, unknown>
    t.equal(r.prev_hash, previous, `row ${r.seq} links to the previous hash`)
    t.equal(r.hash, createHash('sha256').update(canonicalJson(doc)).digest('hex'), `row ${r.seq} hash`)
    t.match(canonicalJson(doc), /^\{"actorId":"[0-9a-f-]{36}","data":\{"likeCount":\d,"nested":\{"a":0\.1,"z":\[/)
    previous = r.hash
  }
  const verify = await get(ta, '/api/v1/audit/verify', ta.user(['admin']))
  t.same(verify.body, { ok: true, count: 3, lastHash: previous })
})

async function asIntruder (su: pg.Client, sql: string, params: unknown[]): Promise<void> {
  // What the trigger cannot stop: a superuser turning triggers off for its session.
  await su.query('SET session_replication_role = replica')
  try {
    const res = await su.query(sql, params)
    if (res.rowCount !== 1) throw new Error(`${sql} changed ${res.rowCount ?? 0} rows`)
  } finally {
    await su.query('SET session_replication_role = DEFAULT')
  }
}

t.test('verify walks the chain in batches and names the first row altered or after one removed', async (t) => {
  // Batches of 3 over 10 rows: the walk crosses batch boundaries.
  const ta = await buildTestApp(t, { AUDIT_VERIFY_BATCH_SIZE: '3' })
  const admin = ta.user(['admin'])
  const events = await logged(ta, 10)
  const su = await ta.superuser()
  const { rows } = await su.query<{ id: string, seq: string }>('SELECT id, seq FROM audit.audit_log ORDER BY seq')
  const idAt = (seq: number): string => rows[seq - 1]?.id ?? ''
  t.same(new Set(rows.map((r) => r.id)), new Set(events.map((e) => e.id)))

  t.match((await get(ta, '/api/v1/audit/verify', admin)).body, { ok: true, count: 10 })

  await t.test('a changed field', async (t) => {
    await asIntruder(su, 'UPDATE audit.audit_log SET actor_id = $1 WHERE id = $2', [randomUUID(), idAt(7)])
    t.same((await get(ta, '/api/v1/audit/verify', admin)).body, {
      ok: false, count: 6, firstBrokenId: idAt(7), reason: 'hash does not match the row\'s content'
    })
  })

  await t.test('a changed row whose hash was recomputed is found at the next link', async (t) => {
    const [row] = await new AuditRepository(ta.deps.prisma).chainAfter(3n, 1)
    if (row === undefined) throw new Error('no row 4')
    const { hash: _old, ...content } = toChainedContent(row)
    const forged = { ...content, ip: '198.51.100.66' }
    await asIntruder(su, 'UPDATE audit.audit_log SET ip = $1, hash = $2 WHERE id = $3',
      [forged.ip, entryHash(forged), idAt(4)])
    t.same((await get(ta, '/api/v1/audit/verify', admin)).body, {
      ok: false, count: 4, firstBrokenId: idAt(5), reason: 'prevHash is not the previous row\'s hash'
    }, 'row 4 holds by itself; row 5 no longer links to it')
  })

  await t.test('a removed row', async (t) => {
    await asIntruder(su, 'DELETE FROM audit.audit_log WHERE id = $1', [idAt(2)])
    t.same((await get(ta, '/api/v1/audit/verify', admin)).body, {
      ok: false, count: 1, firstBrokenId: idAt(3), reason: 'seq 3 where 2 was expected'
    })
  })

  await t.test('the first row removed', async (t) => {
    await asIntruder(su, 'DELETE FROM audit.audit_log WHERE id = $1', [idAt(1)])
    t.same((await get(ta, '/api/v1/audit/verify', admin)).body, {
      ok: false, count: 0, firstBrokenId: idAt(3), reason: 'seq 3 where 1 was expected'
    })
  })

  await t.test('verify is for administrators only', async (t) => {
    t.equal((await get(ta, '/api/v1/audit/verify', ta.user(['moderator']))).status, 403)
    t.equal((await get(ta, '/api/v1/audit/verify', ta.user())).status, 403)
    t.equal((await get(ta, '/api/v1/audit/verify')).status, 401)
  })
})

t.test('a removed row whose successor was relinked is found too', async (t) => {
  const ta = await buildTestApp(t)
  const admin = ta.user(['admin'])
  await logged(ta, 4)
  const su = await ta.superuser()
  const { rows } = await su.query<{ id: string, hash: string }>('SELECT id, hash FROM audit.audit_log ORDER BY seq')
  // Row 2 gone and row 3 pointed at row 1 with its seq moved down: row 3's own hash no longer matches.
  await asIntruder(su, 'DELETE FROM audit.audit_log WHERE id = $1', [rows[1]?.id])
  await asIntruder(su, 'UPDATE audit.audit_log SET prev_hash = $1, seq = 2 WHERE id = $2', [rows[0]?.hash, rows[2]?.id])
  t.match((await get(ta, '/api/v1/audit/verify', admin)).body, { ok: false, count: 1, firstBrokenId: rows[2]?.id })
})
