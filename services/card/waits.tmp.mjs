import pg from 'pg'
const c = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'postgres' }); await c.connect()
const counts = new Map(); const end = Date.now() + Number(process.argv[2]) * 1000; let n = 0
while (Date.now() < end) {
  const { rows } = await c.query(`select usename u, coalesce(wait_event_type,'-')||':'||coalesce(wait_event,'CPU') w, left(regexp_replace(query,'\\s+',' ','g'),38) q from pg_stat_activity where datname='holo_bench' and state like 'active%' and usename like 'holo%'`)
  n++
  for (const r of rows) { const k = `${r.u}|${r.w}|${r.q}`; counts.set(k, (counts.get(k) ?? 0) + 1) }
  await new Promise((r) => setTimeout(r, 3))
}
console.log('samples', n)
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(String(v).padStart(5), k)
await c.end()
