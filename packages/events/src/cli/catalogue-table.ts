// Prints the catalogue table of docs/events.md (`pnpm --filter @holo/events catalogue-table`).
import { catalogueTable } from '../asyncapi.js'

process.stdout.write(`${catalogueTable()}\n`)
