// The PostgreSQL of the integration tests (scripts/postgres.js): a server,
// or the reason a test file skips. With HNSW_GNN_REQUIRE_PG=1 (.ci/run sets
// it) a missing server fails the file instead, so CI cannot pass by
// skipping. Not a test file itself (the name does not match node --test's
// patterns).
import { createRequire } from 'node:module'

const { postgres, whyNoPostgres } = createRequire(import.meta.url)('../scripts/postgres.js')

export { postgres }

/** `{ server: { uri, stop } }`, or `{ skip: reason }` when there is none and none is required. */
export async function postgresOrSkip() {
  const server = await postgres()
  if (server) return { server, skip: false }
  const reason = whyNoPostgres()
  if (process.env.HNSW_GNN_REQUIRE_PG === '1') throw new Error(`HNSW_GNN_REQUIRE_PG=1 but there is ${reason}`)
  return { server: null, skip: `${reason} (run scripts/pg-venv.sh, or set HNSW_GNN_PG_URI)` }
}
