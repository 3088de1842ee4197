export * from './db.js'
export * from './gateway.js'
export * from './local-services.js'
export * from './services.js'
