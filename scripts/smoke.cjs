// Smoke test of one built binary, as a user would touch it: insert, search
// with a filter, feedback, train, save, reopen, search again. Run directly,
// it loads the package from the repository root (or HNSW_GNN_MODULE); point
// the loader at a particular binary with NAPI_RS_NATIVE_LIBRARY_PATH, or make
// it load the WASI build with NAPI_RS_FORCE_WASI=error. HNSW_GNN_EXPECT names
// the build that must have loaded ('native' or 'wasm32-wasi'); the line
// printed names the one that did, and the stats() fallbacks in force.
//
//   NAPI_RS_NATIVE_LIBRARY_PATH=npm/linux-x64-gnu/hnsw-gnn.linux-x64-gnu.node node scripts/smoke.cjs
//
// `run(hnswGnn, label)` runs it on a module loaded another way (the ESM
// smoke of scripts/pack-smoke.sh imports the package and passes it here).
'use strict'
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

async function run({ VectorDB, simdInfo }, label = 'smoke', build = 'as installed') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-smoke-'))
  try {
    const file = path.join(dir, 'smoke.hgnn')
    const dim = 16
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5
    const vector = () => Float32Array.from({ length: dim }, random)
    const db = new VectorDB({ dimensions: dim, path: file, learning: { explore: 0, background: false } })
    const items = Array.from({ length: 500 }, (_, i) => ({ id: `item-${i}`, vector: vector(), metadata: { even: i % 2 === 0 } }))
    await db.insertBatch(items)
    const query = items[10].vector
    const found = await db.search(query, { k: 5, filter: { even: true } })
    assert.equal(found.hits[0].id, 'item-10', 'the item itself is nearest')
    assert.ok(found.hits.every((h) => h.metadata.even), 'the filter holds')
    await db.feedback({ searchId: found.searchId, clicked: [found.hits[1].id] })
    const report = await db.train()
    assert.equal(typeof report.sessions, 'number')
    await db.save()
    await db.close()
    const reopened = await VectorDB.open(file)
    assert.equal(reopened.size, 500)
    const { fileMapping, fileLock, walHandle } = reopened.stats()
    const again = await reopened.search(query, { k: 5, filter: { even: true } })
    assert.equal(again.hits[0].id, 'item-10')
    assert.equal(reopened.learningStats().sessions, 1, 'the feedback was saved')
    await reopened.close()
    if (process.env.HNSW_GNN_EXPECT) assert.equal(build, process.env.HNSW_GNN_EXPECT, 'the expected build loaded')
    console.log(
      `${label}: ok (${build} on ${process.platform}-${process.arch}, node ${process.version}, SIMD ${simdInfo().active}, ` +
        `fileMapping ${fileMapping}, fileLock ${fileLock}, walHandle ${walHandle})`,
    )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

module.exports = { run }

if (require.main === module) {
  const modulePath = process.env.HNSW_GNN_MODULE || path.join(__dirname, '..')
  // Which build the generated loader picked ('native' or 'wasm32-wasi'),
  // asked of the repository's native.js (an installed package keeps it private).
  const build = process.env.HNSW_GNN_MODULE ? undefined : require(path.join(modulePath, 'native.js')).__napiBindingTarget
  run(require(modulePath), 'smoke', build).catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
