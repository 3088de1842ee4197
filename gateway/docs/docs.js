// Renders one Swagger UI per service document and the event catalogue, all served by this gateway.
for (const service of ['auth', 'card', 'file', 'notification', 'analytics', 'audit', 'billing']) {
  window.SwaggerUIBundle({
    url: `/docs/${service}.json`,
    dom_id: `#${service}-ui`,
    deepLinking: false,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    validatorUrl: null,
    persistAuthorization: true
  })
}

// The AsyncAPI 3.0 document of the bus, as a table: one row per event type (Swagger UI reads OpenAPI only).
const cell = (tag, text) => {
  const el = document.createElement(tag)
  el.textContent = text
  return el
}
const fieldsOf = (schema) => Object.entries(schema?.properties ?? {})
  .map(([name, s]) => `${name}${(schema.required ?? []).includes(name) ? '' : '?'}`).join(', ') || '(none)'

async function renderEvents () {
  const target = document.getElementById('events-ui')
  try {
    const res = await fetch('/docs/events.json')
    if (!res.ok) throw new Error(`the catalogue answered ${res.status}`)
    const doc = await res.json()
    target.append(cell('h2', doc.info.title), cell('p', doc.info.description))
    for (const channel of Object.values(doc.channels)) {
      target.append(cell('h3', `Stream ${channel.address}`), cell('p', channel.description))
      const table = document.createElement('table')
      table.className = 'holo-events'
      const head = table.createTHead().insertRow()
      for (const h of ['type', 'what happened', 'subject and actor', 'data']) head.append(cell('th', h))
      const body = table.createTBody()
      for (const ref of Object.values(channel.messages)) {
        const message = doc.components.messages[ref.$ref.split('/').pop()]
        const row = body.insertRow()
        row.append(cell('td', message.name), cell('td', message.summary), cell('td', message.description),
          cell('td', fieldsOf(message.payload.properties.data)))
      }
      target.append(table)
    }
  } catch (err) {
    target.append(cell('p', `The event catalogue could not be loaded: ${err.message}`))
  }
}
renderEvents()
