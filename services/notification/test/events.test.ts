// Each event kind makes the right notification (or none), with the directories' names; likes collapse.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { buildTestApp, eventually, withSeq, type TestApp, type TestUser } from './helper.js'
import type { NotificationItem } from '../src/modules/notifications/notifications.types.js'
import { ZERO_ID } from '../src/ids.js'

const inbox = async (ta: TestApp, u: TestUser): Promise<NotificationItem[]> => {
  const res = await ta.app.inject({ url: '/api/v1/notifications?limit=100', headers: u.headers })
  if (res.statusCode !== 200) throw new Error(`inbox answered ${res.statusCode}`)
  return res.json().items
}

const registered = (id: string, username: string) => withSeq(makeEvent('holo.user.registered.v1', {
  subject: id, actorId: id, data: { email: `${username}@example.com`, username }
}), 1)

t.test('each event kind makes its notification; self-actions and private collections make none', async (t) => {
  const ta = await buildTestApp(t)
  const [owner, ana, mod, bo] = [ta.user(), ta.user(), ta.user(), ta.user()]
  const card = randomUUID()
  const template = randomUUID()
  const publicCollection = randomUUID()
  const privateCollection = randomUUID()
  const ownCollection = randomUUID()
  await ta.publish(
    registered(owner.id, 'olga'), registered(ana.id, 'ana'), registered(bo.id, 'bo'),
    withSeq(makeEvent('holo.user.profile_updated.v1', {
      subject: ana.id, actorId: ana.id, data: { changed: ['displayName'], displayName: 'Ana Lima' }
    }), 2),
    makeEvent('holo.template.created.v1', {
      subject: template, actorId: mod.id, data: { authorId: mod.id, name: 'Holo Frame', premium: false }
    }),
    withSeq(makeEvent('holo.card.created.v1', {
      subject: card,
      actorId: owner.id,
      data: { ownerId: owner.id, title: 'Nebula', visibility: 'public', rarity: 'rare', templateId: template,
        artworkFileId: null }
    }), 1),
    withSeq(makeEvent('holo.card.updated.v1', {
      subject: card,
      actorId: owner.id,
      data: { ownerId: owner.id, version: 2, changed: ['title'], title: 'Nebula Dragon' }
    }), 2),
    // Stale: an older title arriving late changes nothing.
    withSeq(makeEvent('holo.card.updated.v1', {
      subject: card, actorId: owner.id, data: { ownerId: owner.id, version: 1, changed: ['title'], title: 'Old' }
    }), 2),
    makeEvent('holo.collection.created.v1', {
      subject: publicCollection, actorId: ana.id, data: { ownerId: ana.id, name: 'Favourites', visibility: 'public' }
    }),
    makeEvent('holo.collection.created.v1', {
      subject: privateCollection, actorId: bo.id, data: { ownerId: bo.id, name: 'Secret', visibility: 'private' }
    }),
    makeEvent('holo.collection.created.v1', {
      subject: ownCollection, actorId: owner.id, data: { ownerId: owner.id, name: 'Mine', visibility: 'public' }
    }),
    makeEvent('holo.collection.card_added.v1', {
      subject: publicCollection, actorId: ana.id, data: { ownerId: ana.id, cardId: card, position: 0 }
    }),
    makeEvent('holo.collection.card_added.v1', {
      subject: privateCollection, actorId: bo.id, data: { ownerId: bo.id, cardId: card, position: 0 }
    }),
    makeEvent('holo.collection.card_added.v1', {
      subject: ownCollection, actorId: owner.id, data: { ownerId: owner.id, cardId: card, position: 0 }
    }),
    withSeq(makeEvent('holo.card.hidden.v1', {
      subject: card, actorId: mod.id, data: { ownerId: owner.id, reason: 'spam' }
    }), 3),
    withSeq(makeEvent('holo.card.unhidden.v1', { subject: card, actorId: mod.id, data: { ownerId: owner.id } }), 4),
    // The owner hiding their own card (as a moderator) is told nothing.
    withSeq(makeEvent('holo.card.hidden.v1', { subject: card, actorId: owner.id, data: { ownerId: owner.id } }), 5),
    // Security events.
    makeEvent('holo.user.logged_in.v1', {
      subject: owner.id, actorId: owner.id,
      data: { sessionId: randomUUID(), ip: '203.0.113.7', userAgent: 'Firefox', newDevice: true }
    }),
    makeEvent('holo.user.logged_in.v1', {
      subject: owner.id, actorId: owner.id,
      data: { sessionId: randomUUID(), ip: '203.0.113.7', userAgent: 'Firefox', newDevice: false }
    }),
    makeEvent('holo.user.password_changed.v1', { subject: owner.id, actorId: owner.id, data: { revokedSessions: 2 } }),
    makeEvent('holo.user.password_reset.v1', { subject: owner.id, actorId: owner.id, data: {} }),
    makeEvent('holo.user.email_verified.v1', {
      subject: owner.id, actorId: owner.id, data: { email: 'olga@example.com' }
    }),
    makeEvent('holo.session.revoked.v1', {
      subject: randomUUID(), actorId: mod.id, data: { userId: owner.id, reason: 'admin' }
    }),
    makeEvent('holo.session.revoked.v1', {
      subject: randomUUID(), actorId: owner.id, data: { userId: owner.id, reason: 'logout' }
    }),
    makeEvent('holo.session.revoked.v1', { subject: randomUUID(), data: { userId: owner.id, reason: 'reuse' } }),
    makeEvent('holo.user.roles_changed.v1', {
      subject: owner.id, actorId: mod.id, data: { roles: ['user', 'moderator'], previousRoles: ['user'] }
    })
  )
  await ta.drained()
  // Another subject's event: only ordered after the card's once those were applied (the bus orders per subject).
  await ta.publish(makeEvent('holo.template.archived.v1', {
    subject: template, actorId: mod.id, data: { authorId: mod.id }
  }))
  await ta.drained()
  t.same(await ta.deps.redis.xrange(`${ta.prefix}dead.notification`, '-', '+'), [], 'no event dead-lettered')

  const items = await inbox(ta, owner)
  const byType = new Map<string, NotificationItem[]>()
  for (const n of items) byType.set(n.type, [...(byType.get(n.type) ?? []), n])
  t.same([...byType.keys()].sort(), [
    'card.hidden', 'card.unhidden', 'collection.card_added', 'security.email_verified', 'security.new_login',
    'security.password_changed', 'security.password_reset', 'security.roles_changed', 'security.session_revoked',
    'template.archived', 'welcome'
  ], 'one notification of each kind, nothing for self-actions, a private collection or an ordinary login')
  for (const [type, list] of byType) t.equal(list.length, 1, `one ${type}`)
  const one = (type: string): NotificationItem => byType.get(type)?.[0] as NotificationItem

  t.equal(one('welcome').title, 'Welcome to Holo Cards, olga!')
  t.match(one('collection.card_added'), {
    title: 'Ana Lima added Nebula Dragon to a collection',
    body: 'Ana Lima added “Nebula Dragon” to their collection “Favourites”.',
    data: { cardId: card, collectionId: publicCollection, actorIds: [ana.id] },
    readAt: null
  }, 'names come from the directories (the newer title, the display name)')
  t.match(one('card.hidden'), {
    title: 'Nebula Dragon was hidden by a moderator', data: { cardId: card, reason: 'spam' }
  })
  t.match(one('card.hidden').body, /Reason: spam/)
  t.match(one('card.unhidden'), { title: 'Nebula Dragon is visible again', data: { cardId: card } })
  t.match(one('template.archived'), {
    title: 'The template Holo Frame was archived', data: { templateId: template, cardIds: [card], count: 1 }
  })
  t.match(one('security.new_login'), { data: { ip: '203.0.113.7', userAgent: 'Firefox' } })
  t.match(one('security.password_changed').body, /2 other sessions were signed out/)
  t.match(one('security.session_revoked'), { data: { reason: 'admin', actorIds: [mod.id] } })
  t.match(one('security.roles_changed'), {
    body: 'Your roles are now user, moderator (before: user).', data: { roles: ['user', 'moderator'] }
  })
  t.match(one('security.email_verified').body, /olga@example.com/)
  t.equal((await inbox(ta, ana)).map((n) => n.type).join(), 'welcome', 'Ana only got her welcome')
  t.ok(items.every((n, i) => i === 0 || (items[i - 1] as NotificationItem).id > n.id), 'newest first by id')
})

t.test('likes collapse within the window, unlikes take likers out, ids grow, since() and live messages', async (t) => {
  const ta = await buildTestApp(t, { NOTIFICATIONS_LIKE_WINDOW_SECONDS: '600' })
  const owner = ta.user()
  const likers = Array.from({ length: 14 }, () => ta.user())
  const card = randomUUID()
  const privateCard = randomUUID()
  const live = await ta.listen(owner.id)
  const t0 = new Date('2026-05-01T10:00:00Z')
  const at = (minutes: number): Date => new Date(t0.getTime() + minutes * 60_000)
  const like = (u: TestUser, minutes: number, c = card) => makeEvent('holo.card.liked.v1', {
    subject: c, actorId: u.id, time: at(minutes), data: { ownerId: owner.id, likeCount: 1 }
  })
  const unlike = (u: TestUser, minutes: number, c = card) => makeEvent('holo.card.unliked.v1', {
    subject: c, actorId: u.id, time: at(minutes), data: { ownerId: owner.id, likeCount: 0 }
  })
  const [ana, bo] = likers as [TestUser, TestUser]
  await ta.publish(
    registered(ana.id, 'Ana'), registered(bo.id, 'Bo'),
    withSeq(makeEvent('holo.card.created.v1', {
      subject: card, actorId: owner.id,
      data: { ownerId: owner.id, title: 'Nebula Dragon', visibility: 'public', rarity: 'rare', templateId: null,
        artworkFileId: null }
    }), 1),
    withSeq(makeEvent('holo.card.created.v1', {
      subject: privateCard, actorId: owner.id,
      data: { ownerId: owner.id, title: 'Secret Sketch', visibility: 'private', rarity: 'rare', templateId: null,
        artworkFileId: null }
    }), 1),
    like(ana, 0)
  )
  await ta.drained()
  let items = await inbox(ta, owner)
  t.equal(items.length, 1)
  const first = items[0] as NotificationItem
  t.match(first, { type: 'card.liked', title: 'Ana liked Nebula Dragon', data: { cardId: card, count: 1 } })
  await eventually(() => live.length >= 2, 'the first live messages')
  t.same(live.slice(0, 2), [
    { kind: 'notification', notification: first, previousId: ZERO_ID }, { kind: 'unread', count: 1 }
  ], 'the first of the inbox names no predecessor')

  // The owner reads it; a second like re-makes it with a new id, unread again.
  await ta.app.inject({ method: 'POST', url: `/api/v1/notifications/${first.id}/read`, headers: owner.headers })
  await ta.publish(like(bo, 1))
  await ta.drained()
  items = await inbox(ta, owner)
  t.equal(items.length, 1, 'still one notification')
  const second = items[0] as NotificationItem
  t.ok(second.id > first.id, 'a changed notification has a greater id')
  t.match(second, {
    title: 'Bo and Ana liked Nebula Dragon', readAt: null, data: { count: 2, actorIds: [bo.id, ana.id] }
  })
  await eventually(() => live.length >= 6, 'the re-id messages')
  t.same(live.slice(2, 6), [
    { kind: 'unread', count: 0 },
    { kind: 'removed', id: first.id },
    { kind: 'notification', notification: second, previousId: first.id },
    { kind: 'unread', count: 1 }
  ], 'read, then the old id removed, the new one (after the old in the inbox\'s order), the count')

  // Twelve more: "… and 13 others"; since(second) holds exactly the newest version.
  await ta.publish(...likers.slice(2).map((u, i) => like(u, 2 + i * 0.1)))
  await ta.drained()
  items = await inbox(ta, owner)
  t.equal(items.length, 1)
  const third = items[0] as NotificationItem
  t.match(third, { title: 'Someone and 13 others liked Nebula Dragon', data: { count: 14 } })
  t.same(await ta.app.notifications.repository.since(owner.id, second.id, 50), [third], 'since() after a seen id')
  t.same(await ta.app.notifications.repository.since(owner.id, third.id, 50), [])

  // Taking likes back inside the window takes likers out; after the window nothing changes.
  await ta.publish(...likers.slice(2).map((u) => unlike(u, 5)), unlike(ana, 5))
  await ta.drained()
  items = await inbox(ta, owner)
  t.match(items, [{ title: 'Bo liked Nebula Dragon', data: { count: 1, actorIds: [bo.id] } }])
  t.ok((items[0] as NotificationItem).id > third.id)
  await ta.publish(unlike(bo, 30))
  await ta.drained()
  t.equal((await inbox(ta, owner)).length, 1, 'an unlike after the window changes nothing')

  // A new group after the window; its last liker leaving removes the notification.
  await ta.publish(like(ana, 40), unlike(ana, 41))
  await ta.drained()
  t.equal((await inbox(ta, owner)).length, 1, 'the last liker leaving removes the notification')
  const removedId = live.filter((m) => m.kind === 'notification').at(-1)
  await eventually(() => live.some((m) => m.kind === 'removed' && removedId?.kind === 'notification' &&
    m.id === removedId.notification.id), 'the removal message')

  // A like on the owner's private card names it to the owner; the owner liking their own card makes nothing.
  await ta.publish(like(ana, 50, privateCard), like(owner, 51, card))
  await ta.drained()
  items = await inbox(ta, owner)
  t.equal(items.length, 2)
  t.equal((items[0] as NotificationItem).title, 'Ana liked Secret Sketch')

  // A duplicated event changes nothing.
  const dup = like(bo, 60)
  await ta.publish(dup, dup)
  await ta.drained()
  items = await inbox(ta, owner)
  t.equal(items.length, 3)
  t.equal((items[0] as NotificationItem).title, 'Bo liked Nebula Dragon')
  const again = items[0] as NotificationItem
  await ta.publish(dup)
  await ta.drained()
  t.same((await inbox(ta, owner))[0], again, 'a third delivery changes nothing either')
  t.match((await ta.app.inject({ url: '/metrics' })).body,
    /^notifications_created_total\{[^}]*type="card.liked"[^}]*\} [1-9]\d*$/m)
})

t.test('an inbox head ahead of this clock (another instance\'s ran ahead): new notifications come after it', async (t) => {
  const ta = await buildTestApp(t, { NOTIFICATIONS_LIKE_WINDOW_SECONDS: '600' })
  const owner = ta.user()
  const [ana, bo] = [ta.user(), ta.user()]
  const card = randomUUID()
  const at = (minutes: number): Date => new Date(Date.parse('2026-05-01T10:00:00Z') + minutes * 60_000)
  const like = (u: TestUser, minutes: number) => makeEvent('holo.card.liked.v1', {
    subject: card, actorId: u.id, time: at(minutes), data: { ownerId: owner.id, likeCount: 1 }
  })
  await ta.publish(registered(owner.id, 'Olga'), registered(ana.id, 'Ana'), registered(bo.id, 'Bo'),
    withSeq(makeEvent('holo.card.created.v1', {
      subject: card, actorId: owner.id,
      data: { ownerId: owner.id, title: 'Nebula Dragon', visibility: 'public', rarity: 'rare', templateId: null,
        artworkFileId: null }
    }), 1))
  await ta.drained()
  // An id from an hour ahead, as another instance whose clock runs fast would have handed out.
  const ms = (Date.now() + 3_600_000).toString(16).padStart(12, '0')
  const ahead = `${ms.slice(0, 8)}-${ms.slice(8)}-7000-8000-000000000000`
  await ta.deps.pool.query('UPDATE inbox_heads SET last_id = $2 WHERE user_id = $1', [owner.id, ahead])

  // A like that starts a group: its notification takes the next id after the head, and the group links to it.
  await ta.publish(like(ana, 0))
  await ta.drained()
  let items = await inbox(ta, owner)
  const first = items[0] as NotificationItem
  t.match(first, { title: 'Ana liked Nebula Dragon' })
  t.ok(first.id > ahead, 'after the head')
  const { rows: [head] } = await ta.deps.pool.query('SELECT last_id FROM inbox_heads WHERE user_id = $1', [owner.id])
  t.equal(head?.last_id, first.id, 'the head moved to it')
  // A second like in the window finds the group linked to that id: it replaces it.
  await ta.publish(like(bo, 1))
  await ta.drained()
  items = await inbox(ta, owner)
  t.equal(items.length, 2, 'the welcome and one like notification')
  t.match(items[0], { title: 'Bo and Ana liked Nebula Dragon', data: { count: 2 } })
  t.ok((items[0] as NotificationItem).id > first.id)
})
