// Renders one Swagger UI per service document, all served by this gateway.
for (const service of ['auth', 'card', 'file']) {
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
