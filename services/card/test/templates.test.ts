import t from 'tap'
import { TemplateExample } from '../src/modules/templates/templates.schemas.js'
import { buildTestApp } from './helper.js'

const { layout } = TemplateExample

t.test('templates', async (t) => {
  const h = await buildTestApp(t)
  const { app } = h
  const creator = h.user(['creator'])
  const other = h.user(['creator'])
  const plain = h.user()
  const admin = h.user(['admin'])
  const create = async (body: Record<string, unknown>, who = creator): Promise<any> =>
    await app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: who.auth,
      payload: { name: 'T', layout, ...body }
    })

  t.test('create: creators and admins only; layout validated', async (t) => {
    t.equal((await create({}, plain)).statusCode, 403)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      payload: { name: 'x', layout }
    })).statusCode, 401)
    const res = await create({
      name: 'Cosmic',
      holoDefaults: { effect: 'galaxy', intensity: 0.7 },
      status: 'published',
      premium: true
    })
    t.equal(res.statusCode, 201)
    t.match(res.json(), {
      authorId: creator.id,
      name: 'Cosmic',
      status: 'published',
      premium: true,
      layout,
      holoDefaults: { effect: 'galaxy', intensity: 0.7 }
    })
    t.equal((await create({ name: 'By admin' }, admin)).statusCode, 201)
    const bad = await create({ layout: { ...layout, frame: { ...layout.frame, style: 'wavy' } } })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().errors[0].field, 'layout.frame.style')
    const extra = await create({ layout: { ...layout, script: 'alert(1)' } })
    t.equal(extra.json().errors[0].field, 'layout.script')
    t.equal((await create({ authorId: plain.id })).json().errors[0].field, 'authorId')
    t.equal((await create({ status: 'archived' })).statusCode, 400)
    t.equal((await create({
      layout: { ...layout, positions: { ...layout.positions, title: { x: 2, y: 0, width: 1, height: 1 } } }
    })).json().errors[0].field, 'layout.positions.title.x')
  })

  t.test('drafts are private to their author; list, search and cursors', async (t) => {
    const draft = (await create({ name: 'Secret draft' })).json()
    const pub = (await create({ name: 'Sunny Frame', status: 'published' })).json()
    t.equal((await app.inject({ url: `/api/v1/templates/${draft.id as string}` })).statusCode, 404)
    t.equal((await app.inject({ url: `/api/v1/templates/${draft.id as string}`, headers: other.auth })).statusCode, 404)
    t.equal((await app.inject({
      url: `/api/v1/templates/${draft.id as string}`,
      headers: creator.auth
    })).statusCode, 200)
    t.equal((await app.inject({ url: `/api/v1/templates/${draft.id as string}`, headers: admin.auth })).statusCode, 200)
    t.equal((await app.inject({ url: `/api/v1/templates/${pub.id as string}` })).statusCode, 200)

    const names = (res: any): string[] => res.json().items.map((x: { name: string }) => x.name)
    const listed = names(await app.inject({ url: '/api/v1/templates' }))
    t.ok(listed.includes('Sunny Frame'))
    t.notOk(listed.includes('Secret draft'))
    t.same(names(await app.inject({ url: '/api/v1/templates?q=sunny' })), ['Sunny Frame'])
    t.equal((await app.inject({ url: '/api/v1/templates?status=draft' })).statusCode, 401)
    t.same(names(await app.inject({ url: '/api/v1/templates?status=draft', headers: other.auth })), [])
    t.ok(names(await app.inject({ url: '/api/v1/templates?status=draft', headers: creator.auth }))
      .includes('Secret draft'))
    t.equal((await app.inject({
      url: `/api/v1/templates?status=draft&authorId=${creator.id}`,
      headers: other.auth
    })).statusCode, 403)

    const first = await app.inject({ url: '/api/v1/templates?limit=1' })
    const second = await app.inject({ url: `/api/v1/templates?limit=1&cursor=${first.json().nextCursor as string}` })
    t.equal(second.statusCode, 200)
    t.not(second.json().items[0].id, first.json().items[0].id)
    t.equal((await app.inject({ url: '/api/v1/templates?cursor=bogus' })).statusCode, 400)
  })

  t.test('q is literal: %, _ and \\ match only themselves', async (t) => {
    const names = ['Holo 100% Off', 'Holo 1000 Off', 'under_score', 'underXscore', 'back\\slash', 'backXslash']
    for (const name of names) t.equal((await create({ name, status: 'published' })).statusCode, 201)
    const found = async (q: string): Promise<string[]> => {
      const res = await app.inject({ url: `/api/v1/templates?limit=100&q=${encodeURIComponent(q)}` })
      t.equal(res.statusCode, 200, `q=${q}`)
      return res.json().items.map((x: { name: string }) => x.name).sort()
    }
    t.same(await found('%'), ['Holo 100% Off'])
    t.same(await found('100%'), ['Holo 100% Off'])
    t.same(await found('0%O'), [], 'a literal % between two letters matches nothing here')
    t.same(await found('_'), ['under_score'])
    t.same(await found('r_s'), ['under_score'])
    t.same(await found('\\'), ['back\\slash'])
    t.same(await found('k\\s'), ['back\\slash'])
    t.same(await found('%%'), [])
    t.same(await found('SCORE'), ['underXscore', 'under_score'], 'still a case-insensitive substring match')
  })

  t.test('cards take the template holo defaults for fields they do not set', async (t) => {
    const tpl = (await create({
      status: 'published',
      holoDefaults: { effect: 'cosmos', intensity: 0.9, colors: ['#112233'] }
    })).json()
    const card = await h.card(plain, { templateId: tpl.id, holo: { intensity: 0.2 } })
    t.same(card.holo, { effect: 'cosmos', intensity: 0.2, angle: 0, pattern: null, colors: ['#112233'] })
    t.equal(card.templateId, tpl.id)
    const draft = (await create({})).json()
    const refused = await app.inject({
      method: 'POST',
      url: '/api/v1/cards',
      headers: plain.auth,
      payload: { title: 'x', templateId: draft.id }
    })
    t.equal(refused.statusCode, 400)
    t.equal(refused.json().errors[0].field, 'templateId')
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/cards',
      headers: creator.auth,
      payload: { title: 'x', templateId: draft.id }
    })).statusCode, 201, 'the author may use a draft')
  })

  t.test('patch and delete: author and admin; in use → archived', async (t) => {
    const used = (await create({ status: 'published' })).json()
    const unused = (await create({ status: 'published' })).json()
    await h.card(plain, { templateId: used.id })
    t.equal((await app.inject({
      method: 'PATCH',
      url: `/api/v1/templates/${used.id as string}`,
      headers: other.auth,
      payload: { name: 'mine' }
    })).statusCode, 403)
    const renamed = await app.inject({
      method: 'PATCH',
      url: `/api/v1/templates/${used.id as string}`,
      headers: admin.auth,
      payload: { name: 'Renamed' }
    })
    t.equal(renamed.json().name, 'Renamed')
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/templates/${used.id as string}`,
      headers: other.auth
    })).statusCode, 403)
    const del = await app.inject({
      method: 'DELETE',
      url: `/api/v1/templates/${used.id as string}`,
      headers: creator.auth
    })
    t.equal(del.statusCode, 204)
    t.equal(del.headers['x-template-outcome'], 'archived')
    t.equal((await app.inject({ url: `/api/v1/templates/${used.id as string}` })).json().status, 'archived')
    t.notOk((await app.inject({ url: '/api/v1/templates?limit=100' })).json().items
      .some((x: { id: string }) => x.id === used.id))
    const gone = await app.inject({
      method: 'DELETE',
      url: `/api/v1/templates/${unused.id as string}`,
      headers: creator.auth
    })
    t.equal(gone.headers['x-template-outcome'], 'deleted')
    t.equal((await app.inject({ url: `/api/v1/templates/${unused.id as string}` })).statusCode, 404)
  })
})
