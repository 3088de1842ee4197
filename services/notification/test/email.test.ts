// Mail through a real MailDev: security mail at once, gathering, unsubscribe links and headers.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { testMail, type TestMail } from '@holo/infra/testing'
import { buildTestApp, eventually, withSeq } from './helper.js'

interface Message { id: string, subject: string, text: string, html: string, to: Array<{ address: string }> }

const messagesTo = async (mail: TestMail, address: string): Promise<Message[]> => {
  const res = await fetch(`${mail.apiUrl}/api/email`)
  const all = await res.json() as Message[]
  return all.filter((m) => m.to.some((r) => r.address === address))
}

t.test('security mail, gathering, unsubscribe', async (t) => {
  const mail = await testMail(t)
  const ta = await buildTestApp(t, {
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
    PUBLIC_URL: 'https://holo.example',
    NOTIFICATIONS_EMAIL_GATHER_SECONDS: '2'
  })
  const owner = ta.user()
  const address = `owner-${owner.id.slice(0, 8)}@example.com`
  await ta.publish(withSeq(makeEvent('holo.user.registered.v1', {
    subject: owner.id, actorId: owner.id, data: { email: address, username: 'olga' }
  }), 1))
  for (let i = 0; i < 2; i++) {
    await ta.publish(makeEvent('holo.user.password_changed.v1', { subject: owner.id, actorId: owner.id, data: {} }))
  }
  await ta.drained()
  await eventually(async () => (await messagesTo(mail, address)).length === 2, 'both security mails')
  const security = await messagesTo(mail, address)
  for (const m of security) {
    t.equal(m.subject, 'Your password was changed', 'every security event is mailed, at once')
    t.match(m.text, /The password of your account was changed/)
    t.match(m.html, /<strong>Your password was changed<\/strong>/)
    t.notMatch(m.text, /Unsubscribe/, 'security mail has no unsubscribe link')
  }

  // Likes: email on; the first goes at once, the next ones are gathered into one mail.
  const put = await ta.app.inject({
    method: 'PUT', url: '/api/v1/notifications/preferences', headers: owner.headers,
    payload: { types: { 'card.liked': { email: true } } }
  })
  t.equal(put.statusCode, 200)
  const like = (card: string) => makeEvent('holo.card.liked.v1', {
    subject: card, actorId: randomUUID(), data: { ownerId: owner.id, likeCount: 1 }
  })
  await ta.publish(like(randomUUID()))
  await ta.drained()
  await eventually(async () => (await messagesTo(mail, address)).length === 3, 'the first like mail')
  await ta.publish(like(randomUUID()), like(randomUUID()))
  await ta.drained()
  t.equal(await ta.app.notifications.emails.tick(), 0, 'nothing more is due inside the gathering period')
  t.equal((await messagesTo(mail, address)).length, 3)
  await eventually(async () => await ta.app.notifications.emails.tick() === 1, 'the gathered mail', 10_000, 200)
  const all = await messagesTo(mail, address)
  t.equal(all.length, 4)
  const digest = all.find((m) => /^2 new notifications/.test(m.subject)) as Message
  t.ok(digest, 'the two later likes went out in one mail')
  t.equal(digest.text.match(/^Someone liked your card$/gm)?.length, 2)
  const single = all.find((m) => m.subject === 'Someone liked your card') as Message
  t.ok(single)
  const rawHeaders = async (m: Message): Promise<string> => {
    const raw = await (await fetch(`${mail.apiUrl}/api/email/${m.id}/source`)).text()
    return raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n\s+/g, ' ').replace(/\r\n/g, '\n')
  }
  for (const m of [single, digest]) {
    const headers = await rawHeaders(m)
    t.match(headers, /^List-Unsubscribe: <https:\/\/holo\.example\/api\/v1\/notifications\/unsubscribe\?token=[^>]+>$/m)
    t.match(headers, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m)
    t.match(m.html, /<a href="https:\/\/holo\.example\/api\/v1\/notifications\/unsubscribe\?token=/)
  }
  const metrics = (await ta.app.inject({ url: '/metrics' })).body
  t.match(metrics, /^notification_emails_sent_total\{[^}]*kind="digest"[^}]*\} 1$/m)
  t.match(metrics, /^notification_emails_gathered_total\{[^}]*type="card.liked"[^}]*\} 2$/m)

  // The unsubscribe link turns that type's mail off; a tampered token is a 400.
  const url = new URL(/^List-Unsubscribe: <([^>]+)>$/m.exec(await rawHeaders(single))?.[1] ?? '')
  const token = url.searchParams.get('token') as string
  const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA')
  const bad = await ta.app.inject({ url: `${url.pathname}?token=${tampered}` })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'INVALID_UNSUBSCRIBE_TOKEN')
  const forged = Buffer.from(`${owner.id}:security.new_login`).toString('base64url') + '.' + token.split('.')[1]
  t.equal((await ta.app.inject({ url: `${url.pathname}?token=${forged}` })).statusCode, 400)
  const prefsBefore = await ta.app.inject({ url: '/api/v1/notifications/preferences', headers: owner.headers })
  t.equal(prefsBefore.json().types['card.liked'].email, true)
  const ok = await ta.app.inject({ url: `${url.pathname}?${url.searchParams.toString()}` })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^text\/html/)
  t.match(ok.body, /no longer get mail about <strong>card.liked<\/strong>/)
  const prefs = await ta.app.inject({ url: '/api/v1/notifications/preferences', headers: owner.headers })
  t.same(prefs.json().types['card.liked'], { inApp: true, email: false })
  // One-click (RFC 8058) posts a form to the same URL.
  const oneClick = await ta.app.inject({
    method: 'POST', url: `${url.pathname}?${url.searchParams.toString()}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click'
  })
  t.equal(oneClick.statusCode, 200)
  const boundary = 'holo-one-click'
  const multipart = await ta.app.inject({
    method: 'POST',
    url: `${url.pathname}?${url.searchParams.toString()}`,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`
  })
  t.equal(multipart.statusCode, 200, 'one-click as multipart/form-data, as RFC 8058 asks mail providers to send it')

  // Mail off: a like makes no mail (the inbox still has it).
  await ta.publish(like(randomUUID()))
  await ta.drained()
  t.equal(await ta.app.notifications.emails.tick(), 0)
  t.equal((await messagesTo(mail, address)).length, 4)
})

t.test('an address the mail server refuses for good: the mail is dropped, not retried', async (t) => {
  const mail = await testMail(t)
  const ta = await buildTestApp(t, {
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`, PUBLIC_URL: 'https://holo.example'
  })
  const user = ta.user()
  // Seen in a development database: an address MailDev refuses at RCPT TO (501, bad syntax).
  await ta.publish(withSeq(makeEvent('holo.user.registered.v1', {
    subject: user.id, actorId: user.id, data: { email: "}y'@z!kk|c47", username: 'refused' }
  }), 1))
  await ta.publish(makeEvent('holo.user.password_changed.v1', { subject: user.id, actorId: user.id, data: {} }))
  await ta.drained()
  const left = async (): Promise<unknown> => (await ta.deps.pool.query<{ items: number, due: boolean }>(
    `SELECT (SELECT count(*)::int FROM email_items WHERE user_id = $1) AS items,
            EXISTS (SELECT 1 FROM email_schedules WHERE user_id = $1 AND due_at IS NOT NULL) AS due`,
    [user.id])).rows[0]
  // The commit wakes the job at once; a pass of our own as well, whichever takes the schedule first.
  await ta.app.notifications.emails.tick()
  await eventually(async () => JSON.stringify(await left()) === JSON.stringify({ items: 0, due: false }),
    'the refused mail is done with')
  t.same(await left(), { items: 0, due: false }, 'nothing of it is left to send again (a retry keeps it due)')
  t.equal(await ta.app.notifications.emails.tick(), 0)
})

t.test('a like group re-made while its mail is gathered: the queue holds its newest text only', async (t) => {
  const mail = await testMail(t)
  const ta = await buildTestApp(t, {
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
    PUBLIC_URL: 'https://holo.example',
    NOTIFICATIONS_EMAIL_GATHER_SECONDS: '3600',
    NOTIFICATIONS_LIKE_WINDOW_SECONDS: '600'
  })
  const owner = ta.user()
  const [ana, bo, carl] = [ta.user(), ta.user(), ta.user()]
  const registered = (id: string, username: string) => withSeq(makeEvent('holo.user.registered.v1', {
    subject: id, actorId: id, data: { email: `${username}-${id.slice(0, 8)}@example.com`, username }
  }), 1)
  const card = randomUUID()
  await ta.publish(registered(owner.id, 'olga'), registered(ana.id, 'Ana'), registered(bo.id, 'Bo'),
    registered(carl.id, 'Carl'), withSeq(makeEvent('holo.card.created.v1', {
      subject: card, actorId: owner.id,
      data: { ownerId: owner.id, title: 'Nebula Dragon', visibility: 'public', rarity: 'rare', templateId: null,
        artworkFileId: null }
    }), 1))
  await ta.drained()
  const put = await ta.app.inject({
    method: 'PUT', url: '/api/v1/notifications/preferences', headers: owner.headers,
    payload: { types: { 'card.liked': { email: true } } }
  })
  t.equal(put.statusCode, 200)
  const like = (u: { id: string }, c: string, type: 'liked' | 'unliked' = 'liked') => makeEvent(`holo.card.${type}.v1`, {
    subject: c, actorId: u.id, data: { ownerId: owner.id, likeCount: 1 }
  })
  const queued = async (): Promise<Array<{ notification_id: string | null, text: string }>> =>
    (await ta.deps.pool.query<{ notification_id: string | null, text: string }>(
      'SELECT notification_id, text FROM email_items WHERE user_id = $1 ORDER BY created_at, id', [owner.id])).rows
  // The first like mail goes at once and opens the gathering period: what follows waits in the queue.
  await ta.publish(like(carl, randomUUID()))
  await ta.drained()
  await eventually(async () => (await queued()).length === 0, 'the first like mail sent')
  await ta.publish(like(ana, card))
  await ta.drained()
  t.equal((await queued()).length, 1, 'the next like is gathered')
  // A second liker re-makes the group's notification: its pending mail is replaced, not added to.
  await ta.publish(like(bo, card))
  await ta.drained()
  const inbox = (await ta.app.inject({ url: '/api/v1/notifications', headers: owner.headers })).json().items
  let items = await queued()
  t.equal(items.length, 1, 'one mail queued for the group')
  t.equal(items[0]?.notification_id, inbox[0].id, 'for its current notification')
  t.match(items[0]?.text, /Bo and Ana liked Nebula Dragon/)
  // A like taken back corrects the pending mail too.
  await ta.publish(like(bo, card, 'unliked'))
  await ta.drained()
  items = await queued()
  t.equal(items.length, 1)
  t.match(items[0]?.text, /Ana liked Nebula Dragon/)
  t.notMatch(items[0]?.text, /Bo/)
})
