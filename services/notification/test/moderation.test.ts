// What moderation tells people: reporters learn what became of their reports, owners of a warning or of a card
// hidden pending review (docs/notifications.md). Events as the card service publishes them.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { buildTestApp, withSeq, type TestApp, type TestUser } from './helper.js'
import type { NotificationItem } from '../src/modules/notifications/notifications.types.js'

const inbox = async (ta: TestApp, u: TestUser): Promise<NotificationItem[]> => {
  const res = await ta.app.inject({ url: '/api/v1/notifications?limit=100', headers: u.headers })
  if (res.statusCode !== 200) throw new Error(`inbox answered ${res.statusCode}`)
  return res.json().items
}

const created = (card: string, ownerId: string, title: string, visibility: 'public' | 'private') =>
  withSeq(makeEvent('holo.card.created.v1', {
    subject: card, actorId: ownerId, data: { ownerId, title, visibility, rarity: 'common', templateId: null, artworkFileId: null }
  }), 1)

t.test('reports resolved: reporters and owners are told, the moderator is not', async (t) => {
  const ta = await buildTestApp(t)
  const [owner, ana, bo, mod] = [ta.user(), ta.user(), ta.user(), ta.user()]
  const [warnedCard, hiddenCard, privateCard, dismissed] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
  const resolved = (card: string, action: 'hide' | 'dismiss' | 'warn', reporterIds: string[], note?: string) =>
    makeEvent('holo.card.reports_resolved.v1', {
      subject: card,
      actorId: mod.id,
      data: { ownerId: owner.id, action, reportIds: reporterIds.map(() => randomUUID()), reporterIds, ...(note === undefined ? {} : { note }) }
    })
  await ta.publish(
    created(warnedCard, owner.id, 'Rude Card', 'public'),
    created(hiddenCard, owner.id, 'Spam Card', 'public'),
    created(privateCard, owner.id, 'Secret Card', 'private'),
    created(dismissed, owner.id, 'Fine Card', 'public'),
    // A moderator who had reported the card too is not told of their own decision.
    resolved(warnedCard, 'warn', [ana.id, bo.id, mod.id], 'Be kind'),
    resolved(hiddenCard, 'hide', [ana.id], 'Spam'),
    withSeq(makeEvent('holo.card.hidden.v1', {
      subject: hiddenCard, actorId: mod.id, data: { ownerId: owner.id, reason: 'Spam' }
    }), 2),
    resolved(privateCard, 'dismiss', [bo.id]),
    resolved(dismissed, 'dismiss', [ana.id])
  )
  await ta.drained()
  t.same(await ta.deps.redis.xrange(`${ta.prefix}dead.notification`, '-', '+'), [], 'no event dead-lettered')

  const own = await inbox(ta, owner)
  t.same(own.map((n) => n.type).sort(), ['card.hidden', 'card.warned'], 'the owner: the warning and the hide only')
  const warning = own.find((n) => n.type === 'card.warned')
  t.match(warning, { title: 'You got a warning about Rude Card', data: { cardId: warnedCard, note: 'Be kind' } })
  t.match(warning?.body, /Note: Be kind/)

  const anas = await inbox(ta, ana)
  t.same(anas.map((n) => [n.type, n.data.cardId, n.data.action]).sort(), [
    ['report.resolved', dismissed, 'dismiss'],
    ['report.resolved', hiddenCard, 'hide'],
    ['report.resolved', warnedCard, 'warn']
  ].sort())
  const aboutWarned = anas.find((n) => n.data.cardId === warnedCard)
  t.equal(aboutWarned?.title, 'Your report was resolved')
  t.match(aboutWarned?.body, /“Rude Card”: its owner was warned/)
  t.notMatch(aboutWarned?.body, /Be kind/, 'the moderator\'s note is for the owner')

  const bos = await inbox(ta, bo)
  const aboutPrivate = bos.find((n) => n.data.cardId === privateCard)
  t.notMatch(aboutPrivate?.body, /Secret/, 'a private card is not named to a reporter')
  t.match(aboutPrivate?.body, /a card: no rule was broken/)
  t.same(await inbox(ta, mod), [], 'nothing for the moderator')
})

t.test('a card hidden automatically: the owner is told it waits for review', async (t) => {
  const ta = await buildTestApp(t)
  const [owner, reporter] = [ta.user(), ta.user()]
  const card = randomUUID()
  await ta.publish(
    created(card, owner.id, 'Busy Card', 'public'),
    withSeq(makeEvent('holo.card.hidden.v1', {
      subject: card, actorId: reporter.id, data: { ownerId: owner.id, automatic: true }
    }), 2)
  )
  await ta.drained()
  const [item, ...rest] = await inbox(ta, owner)
  t.same(rest, [])
  t.match(item, { type: 'card.hidden', title: 'Busy Card is hidden pending review', data: { cardId: card, automatic: true } })
  t.notMatch(item?.body, /hidden by a moderator/)
  t.same(await inbox(ta, reporter), [])
})
