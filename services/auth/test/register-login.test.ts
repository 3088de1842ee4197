import t from 'tap'
import { bearer, buildTestApp, newAccount, register } from './helper.js'

t.test('register then login', async (t) => {
  const { app } = await buildTestApp(t)
  const { res, body, tokens } = await register(app)
  t.equal(res.statusCode, 201, res.body)
  t.equal(tokens.user.email, body.email)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: body.email, password: body.password } })
  t.equal(login.statusCode, 200, login.body)
  const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(login.json().accessToken) })
  t.equal(me.statusCode, 200, me.body)
  const ref = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: tokens.refreshToken } })
  t.equal(ref.statusCode, 200, ref.body)
  void newAccount
})
