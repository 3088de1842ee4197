// Notification ids: UUIDv7 that only grow within a process (a counter within a millisecond, a clock step back
// included), and after() the smallest id greater than another.
import t from 'tap'
import { after, uuidv7 } from '../src/ids.js'

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('ids grow strictly, in one millisecond and when the clock steps back', async (t) => {
  const now = Date.now()
  // 5,000 in one millisecond overflows the 12-bit counter: the id moves on to the next millisecond.
  const ids = [
    ...Array.from({ length: 5000 }, () => uuidv7(now)),
    ...Array.from({ length: 10 }, () => uuidv7(now - 60_000))
  ]
  t.ok(ids.every((id) => V7.test(id)), 'version 7, RFC 9562 variant')
  t.ok(ids.every((id, i) => i === 0 || id > (ids[i - 1] as string)), 'each greater than the one before')
  t.equal(new Set(ids.map((id) => id.slice(14, 36))).size, ids.length, 'no two share their counter and random bits')
})

t.test('after(id) is greater than id and less than any later id of a faster clock', async (t) => {
  const id = uuidv7()
  const next = after(id)
  t.ok(V7.test(next))
  t.ok(next > id)
  t.ok(after('01a23705-34a7-70de-9fff-ffffffffffff') > '01a23705-34a7-70de-9fff-ffffffffffff', 'a carry across bytes')
  t.ok(uuidv7(Date.now() + 10) > next)
})
