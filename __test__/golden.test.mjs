// Golden files: a database file and log written by each format version
// (`fixtures/golden/format-N`, made by `fixtures/make-golden.mjs` with the
// version that wrote it, never regenerated) must open in this version with
// exactly the contents `expected.json` lists, and stay writable.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { VectorDB } from '../index.js'

const golden = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'golden')
const versions = readdirSync(golden).filter((d) => d.startsWith('format-')).sort()

function checkContents(db, expected, label, { added = 0 } = {}) {
  const items = Object.entries(expected.items)
  assert.equal(db.size, items.length + added, `${label}: item count`)
  assert.equal(db.dimensions, expected.dimensions)
  assert.equal(db.metric, expected.metric)
  for (const [id, { vector, metadata }] of items) {
    const stored = db.getSync(id)
    assert.ok(stored, `${label}: ${id} is there`)
    // `+ 0` folds -0 into 0, as expected.json (JSON) does.
    assert.deepEqual(Array.from(stored.vector, (v) => v + 0), vector, `${label}: ${id}'s vector`)
    assert.deepEqual(stored.metadata, metadata, `${label}: ${id}'s metadata`)
    const [hit] = db.searchSync(vector, { k: 1, efSearch: 64 }).hits
    assert.equal(hit.id, id, `${label}: ${id} is its own nearest`)
    assert.equal(hit.distance, 0)
  }
  for (const gone of ['item-1', 'item-5']) assert.equal(db.getSync(gone), null, `${label}: ${gone} stays deleted`)
}

test('there are golden files of format 1 and format 2', () => {
  assert.ok(versions.includes('format-1') && versions.includes('format-2'), versions.join(', '))
})

for (const version of versions) {
  test(`${version} golden files open with their exact contents, read-only and writable`, async (t) => {
    const source = join(golden, version)
    const expected = JSON.parse(readFileSync(join(source, 'expected.json'), 'utf8'))
    // Read-only opens change nothing, so they may use the committed files.
    const before = statSync(join(source, 'db.hgnn')).mtimeMs
    const reader = await VectorDB.open(join(source, 'db.hgnn'), { readOnly: true })
    checkContents(reader, expected, `${version} read-only`)
    await reader.close()
    assert.equal(statSync(join(source, 'db.hgnn')).mtimeMs, before)

    const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-golden-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    cpSync(join(source, 'db.hgnn'), join(dir, 'db.hgnn'))
    cpSync(join(source, 'db.hgnn-wal'), join(dir, 'db.hgnn-wal'))
    const db = await VectorDB.open(join(dir, 'db.hgnn'))
    checkContents(db, expected, `${version} writable`)
    // Writable: a change and a save (which writes the current format), then
    // everything is still there.
    await db.insert({ id: 'new', vector: Array(expected.dimensions).fill(0.5) })
    await db.save()
    await db.close()
    const again = await VectorDB.open(join(dir, 'db.hgnn'))
    checkContents(again, expected, `${version} after a save`, { added: 1 })
    assert.ok(again.getSync('new'))
    await again.close()
  })
}
