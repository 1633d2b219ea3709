// README "Scaling out" runs as written: the cluster excerpt is lines of
// examples/cluster.mjs (which examples.test.mjs runs), and the pgvector
// snippet runs verbatim, as a user's script with hnsw-gnn installed, against
// the real PostgreSQL of the integration tests (see postgres.mjs).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { postgresOrSkip } from './postgres.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const section = readme.slice(readme.indexOf('\n## Scaling out\n'), readme.indexOf('\n## ', readme.indexOf('\n## Scaling out\n') + 1))
const blocks = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])

test('README "Scaling out" has its two code blocks', () => {
  assert.ok(section.length > 100, 'the section exists')
  assert.equal(blocks.length, 2)
})

test("the cluster excerpt's lines are examples/cluster.mjs's own", () => {
  const example = new Set(readFileSync(join(root, 'examples', 'cluster.mjs'), 'utf8').split('\n').map((line) => line.trim()))
  const code = blocks[0].split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('//'))
  assert.ok(code.length >= 8)
  for (const line of code) assert.ok(example.has(line), `not a line of examples/cluster.mjs: ${line}`)
})

const { server, skip } = await postgresOrSkip()
const pg = skip ? null : createRequire(import.meta.url)('pg')

test('the pgvector snippet runs as written against PostgreSQL', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-readme-'))
  const schema = `readme_${process.pid}_${Date.now()}`
  const admin = new pg.Pool({ connectionString: server.uri, max: 1 })
  await admin.query('CREATE EXTENSION IF NOT EXISTS vector')
  await admin.query(`CREATE SCHEMA ${schema}`)
  try {
    // An application directory with hnsw-gnn and pg installed.
    mkdirSync(join(dir, 'node_modules'))
    symlinkSync(root, join(dir, 'node_modules', 'hnsw-gnn'), 'dir')
    symlinkSync(join(root, 'node_modules', 'pg'), join(dir, 'node_modules', 'pg'), 'dir')
    // What the snippet takes as given: a pg pool and a 384-d query, and a
    // products table (in a schema of its own, so that parallel test files
    // cannot collide) of 400 rows, half of them { lang: 'en' }.
    const prelude = `
const pg = require('pg')
const pool = new pg.Pool({ connectionString: process.env.PG_URI, options: '-c search_path=${schema},public' })
let seed = 7
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5
const vector = () => Array.from({ length: 384 }, random)
const query = Float32Array.from(vector())
async function main() {
  await pool.query('CREATE TABLE products (id text PRIMARY KEY, embedding vector(384), attributes jsonb)')
  for (let i = 0; i < 400; i++) {
    await pool.query('INSERT INTO products VALUES ($1, $2::vector, $3::jsonb)', [String(i), '[' + vector().join(',') + ']', JSON.stringify({ lang: i % 2 ? 'de' : 'en' })])
  }
  await pool.query('CREATE INDEX ON products USING hnsw (embedding vector_cosine_ops)')
`
    const epilogue = `
  await reranker.save()
  console.log(JSON.stringify({ ids: hits.map((h) => h.id), sessions: reranker.learningStats().sessions }))
  await reranker.close()
  await pool.end()
}
main().catch((error) => { console.error(error); process.exit(1) })
`
    const script = join(dir, 'readme.cjs')
    writeFileSync(script, prelude + blocks[1] + epilogue)
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, [script], { cwd: dir, env: { ...process.env, PG_URI: server.uri }, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr }),
      )
    })
    assert.equal(code, 0, `exit ${code}\n${stdout}\n${stderr}`)
    const { ids, sessions } = JSON.parse(stdout.trim().split('\n').at(-1))
    assert.equal(ids.length, 10)
    for (const id of ids) assert.equal(Number(id) % 2, 0, `hit ${id} has lang 'en' (the filter held)`)
    assert.equal(sessions, 1, 'the feedback was logged')
    assert.ok(readFileSync(join(dir, 'learned.hgnn')).length > 0, "the reranker's file is where the snippet put it")
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    await admin.end()
  }
})

test.after(() => server?.stop())
