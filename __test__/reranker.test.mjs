// Reranker: the learner over another engine's candidates. The "engine" here
// is exact search in JS (brute force over the items); the reranker must
// lift held-out nDCG@10 over the engine's own order from simulated clicks,
// never return an item the engine did not, follow a writer as a read-only
// reader whose feedback reaches the writer, and keep at most maxItems.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Reranker, LearnedSearch } from '../index.js'
import { bruteForce, makeRng, assertCode, assertClose, failureOf, thrownBy } from './helpers.mjs'
import { intents, userClicks, ndcg, benchmarkLike } from './fixtures/intents.mjs'

const DEPTH = 100

// The error an async method rejects with (never throws).
async function rejection(call) {
  const { error, sync } = await failureOf(call)
  assert.equal(sync, false, `threw instead of rejecting: ${error}`)
  return error
}

// The engine: the exact top k by cosine, ids and scores only (cached per
// query vector: the same query asks again).
function engine(data) {
  const items = data.items.map((vector, i) => ({ id: String(i), vector }))
  const found = new Map()
  return {
    metric: 'cosine',
    async search(query, { k }) {
      const key = `${k}:${query.join(',')}`
      if (!found.has(key)) found.set(key, bruteForce('cosine', items, query, k).map(({ id, score }) => ({ id, score })))
      return found.get(key)
    },
    async vectors(ids) {
      return new Map(ids.map((id) => [id, data.items[Number(id)]]))
    },
  }
}

async function candidatesFor(data, source, reranker, q) {
  const found = await source.search(data.queries[q], { k: DEPTH })
  const missing = new Set(reranker.missing(found.map((f) => f.id)))
  return found.map(({ id }) => (missing.has(id) ? { id, vector: data.items[Number(id)] } : { id }))
}

test('a reranker lifts held-out nDCG@10 over the engine it sits beside, and returns only its candidates', async () => {
  const data = benchmarkLike(1)
  const source = engine(data)
  const reranker = new Reranker({ dimensions: data.dim, learning: { background: false, explore: 0 } })
  const engineOrder = new Map()
  for (const q of data.test) engineOrder.set(q, (await source.search(data.queries[q], { k: DEPTH })).slice(0, 10))
  const before = ndcg(data, data.test, (q) => engineOrder.get(q))
  const rng = makeRng(22)
  for (let s = 0; s < 5000; s++) {
    const q = data.train[rng.int(data.train.length)]
    const { searchId, hits } = await reranker.rerank(data.queries[q], await candidatesFor(data, source, reranker, q), { k: 10 })
    await reranker.feedback({ searchId, ...userClicks(data, q, hits, rng) })
    if ((s + 1) % 200 === 0) await reranker.train()
  }
  assert.ok(reranker.learningStats().active, 'a model serves')
  const learned = new Map()
  for (const q of data.test) {
    const candidates = await candidatesFor(data, source, reranker, q)
    const { hits } = await reranker.rerank(data.queries[q], candidates, { k: 10 })
    const given = new Set(candidates.map((c) => c.id))
    for (const hit of hits) assert.ok(given.has(hit.id), `hit ${hit.id} was a candidate`)
    learned.set(q, hits)
  }
  const after = ndcg(data, data.test, (q) => learned.get(q))
  console.log(`# held-out nDCG@10: engine ${before.toFixed(4)}, reranked ${after.toFixed(4)}`)
  assert.ok(after >= before * 1.1, `reranked ${after.toFixed(4)} vs engine ${before.toFixed(4)}`)
  // Opting in to past queries' clicks: only what the predicate accepts is
  // added, never more than half as many as given.
  let added = 0
  const asked = []
  for (const q of data.test.slice(0, 40)) {
    const top = (await source.search(data.queries[q], { k: 10 })).map(({ id }) => ({ id }))
    const given = new Set(top.map((c) => c.id))
    const expand = (item) => (asked.push(item), Number(item.id) % 2 === 0)
    const { hits } = await reranker.rerank(data.queries[q], top, { k: 10, expand })
    const extra = hits.filter((h) => !given.has(h.id))
    for (const hit of extra) assert.equal(Number(hit.id) % 2, 0, `${hit.id} passed the predicate`)
    const refused = await reranker.rerank(data.queries[q], top, { k: 10, expand: () => false })
    assert.ok(refused.hits.every((h) => given.has(h.id)), 'a predicate that refuses everything adds nothing')
    added += extra.length
  }
  assert.ok(added > 0, 'expansion added accepted items')
  assert.ok(asked.every((item) => typeof item.id === 'string' && 'metadata' in item))
  assertCode(await rejection(() => reranker.rerank(data.queries[0], [{ id: '1' }], { expand: true })), 'ERR_INVALID_ARGUMENT')
  // With rerank: false the engine's order (by its scores) comes back.
  const q = data.test[0]
  const plain = await reranker.rerank(data.queries[q], (await source.search(data.queries[q], { k: DEPTH })).map(({ id, score }) => ({ id, score })), { k: 10, rerank: false })
  assert.deepEqual(plain.hits.map((h) => h.id), engineOrder.get(q).map((h) => h.id))
  await reranker.close()
})

test('LearnedSearch fetches vectors only for candidates the reranker lacks', async () => {
  const data = intents({ seed: 23, items: 400 })
  const inner = engine(data)
  const asked = []
  const source = { metric: 'cosine', search: inner.search, vectors: async (ids) => (asked.push(ids.length), inner.vectors(ids)) }
  const reranker = new Reranker({ dimensions: data.dim, learning: { background: false } })
  const search = new LearnedSearch(source, reranker, { depth: 30 })
  const first = await search.search(data.queries[0], { k: 5 })
  assert.equal(first.hits.length, 5)
  assert.deepEqual(asked, [30], 'every candidate is new the first time')
  await search.search(data.queries[0], { k: 5 })
  assert.deepEqual(asked, [30], 'then none is fetched again')
  assert.equal(reranker.size, 30)
  await search.feedback({ searchId: first.searchId, clicked: [first.hits[1].id] })
  assert.equal(reranker.learningStats().sessions, 1)
  assertCode(thrownBy(() => new LearnedSearch({ search() {} }, reranker)), 'ERR_INVALID_ARGUMENT')
  assertCode(thrownBy(() => new LearnedSearch({ ...source, metric: 'dot' }, reranker)), 'ERR_INVALID_ARGUMENT')
  assertCode(thrownBy(() => new LearnedSearch(source, reranker, { depth: 0 })), 'ERR_INVALID_ARGUMENT')
  await reranker.close()
})

test('readers follow a writer: their feedback reaches it, its model reaches them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-reranker-'))
  try {
    const data = intents({ seed: 24 })
    const source = engine(data)
    const path = join(dir, 'learned.hgnn')
    const writer = new Reranker({ dimensions: data.dim, path, learning: { background: false, explore: 0 } })
    // The writer has seen half the queries' candidates; readers see the rest.
    for (const q of data.train.slice(0, 20)) await writer.rerank(data.queries[q], await candidatesFor(data, source, writer, q))
    await writer.save()
    const seenByWriter = writer.size
    const reader = await Reranker.open(path, { readOnly: true })
    const rng = makeRng(25)
    let sessions = 0
    for (let round = 0; round < 6; round++) {
      for (let s = 0; s < 300; s++) {
        const q = data.train[rng.int(data.train.length)]
        const { searchId, hits } = await reader.rerank(data.queries[q], await candidatesFor(data, source, reader, q), { k: 10 })
        await reader.feedback({ searchId, ...userClicks(data, q, hits, rng) })
        sessions++
      }
      const batch = reader.exportFeedback()
      assert.ok(batch instanceof Uint8Array)
      const imported = await writer.importFeedback(batch)
      assert.equal(imported.sessions, 300)
      await writer.train()
      await writer.save()
      await reader.refresh()
    }
    assert.equal(writer.learningStats().sessions, sessions)
    assert.ok(writer.size > seenByWriter, `the writer learned the readers' items (${seenByWriter} → ${writer.size})`)
    assert.ok(writer.learningStats().active, 'the writer trained a model from the readers feedback')
    assert.ok(reader.learningStats().active, 'the reader serves it')
    // On candidates both hold (the last save has them all), the reader
    // ranks exactly as the writer; the model changes its rankings.
    let changed = 0
    let compared = 0
    for (const q of data.test.slice(0, 60)) {
      const found = await source.search(data.queries[q], { k: DEPTH })
      const candidates = found.filter(({ id }) => writer.missing([id]).length === 0).map(({ id }) => ({ id }))
      assert.deepEqual(reader.missing(candidates.map((c) => c.id)), [])
      const fromWriter = await writer.rerank(data.queries[q], candidates)
      const fromReader = await reader.rerank(data.queries[q], candidates)
      const plain = await reader.rerank(data.queries[q], candidates, { rerank: false })
      assert.deepEqual(fromReader.hits.map((h) => h.id), fromWriter.hits.map((h) => h.id))
      changed += fromReader.hits.some((h, i) => h.id !== plain.hits[i].id)
      compared++
    }
    assert.ok(changed > 10, `the model changed ${changed} of ${compared} rankings in the reader`)
    assertCode(await rejection(() => reader.importFeedback(reader.exportFeedback())), 'ERR_READ_ONLY')
    assertCode(await rejection(() => writer.importFeedback(new Uint8Array(40))), 'ERR_INVALID_ARGUMENT')
    assertCode(await rejection(() => writer.importFeedback('batch')), 'ERR_INVALID_ARGUMENT')
    await reader.close()
    await writer.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('maxItems keeps the most recently seen items; bad input gets its code', async () => {
  const data = intents({ seed: 26, items: 600 })
  const reranker = new Reranker({ dimensions: data.dim, maxItems: 120, learning: { background: false } })
  const batch = (from) => data.items.slice(from, from + 50).map((vector, i) => ({ id: String(from + i), vector }))
  for (let from = 0; from < 300; from += 50) await reranker.rerank(data.queries[0], batch(from))
  await reranker.rerank(data.queries[0], batch(0).map(({ id }) => ({ id: id === '0' ? 'x' : id, vector: data.items[0] })).slice(0, 1))
  await reranker.save().catch(() => {}) // waits for evictions (an in-memory save is refused)
  assert.ok(reranker.size <= 120, `size ${reranker.size}`)
  assert.deepEqual(reranker.missing(['299', '250', '0', '120']), ['0', '120'], 'the oldest went first')
  const q = data.queries[0]
  assertCode(await rejection(() => reranker.rerank(q, [{ id: 'unknown' }])), 'ERR_NOT_FOUND')
  assertCode(await rejection(() => reranker.rerank(q, [{ id: 'short', vector: [1, 2] }])), 'ERR_DIMENSION_MISMATCH')
  assertCode(await rejection(() => reranker.rerank(q, [{ id: 'nan', vector: new Float32Array(data.dim).fill(NaN) }])), 'ERR_INVALID_VECTOR')
  assertCode(await rejection(() => reranker.rerank(q, [{ id: 7 }])), 'ERR_INVALID_ARGUMENT')
  assertCode(await rejection(() => reranker.rerank(q, [{ id: '299', scor: 1 }])), 'ERR_INVALID_ARGUMENT')
  assertCode(await rejection(() => reranker.rerank(q, [{ id: '299', score: NaN }])), 'ERR_INVALID_ARGUMENT')
  assertCode(await rejection(() => reranker.rerank(q, 'nope')), 'ERR_INVALID_ARGUMENT')
  assertCode(await rejection(() => reranker.rerank(q, [{ id: '299' }], { k: 0 })), 'ERR_INVALID_ARGUMENT')
  assertCode(await rejection(() => reranker.rerank(q.slice(1), [{ id: '299' }])), 'ERR_DIMENSION_MISMATCH')
  assertCode(thrownBy(() => new Reranker({ dimensions: 4, maxItems: 0 })), 'ERR_INVALID_ARGUMENT')
  const unknownKey = thrownBy(() => new Reranker({ dimensions: 4, bogus: 1 }))
  assertCode(unknownKey, 'ERR_INVALID_ARGUMENT')
  assert.match(unknownKey.message, /"bogus"/)
  await reranker.close()
  assertCode(await rejection(() => reranker.rerank(q, [{ id: '299' }])), 'ERR_CLOSED')
})

test('a full reranker under concurrent reranks and learned searches: none fails, maxItems holds', async () => {
  const data = intents({ seed: 27, items: 600 })
  const reranker = new Reranker({ dimensions: data.dim, maxItems: 30, learning: { background: false } })
  const search = new LearnedSearch(engine(data), reranker, { depth: 20 })
  const settled = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => search.search(data.queries[i % data.queries.length], { k: 5 })))
  assert.deepEqual(
    settled.filter((r) => r.status === 'rejected').map((r) => r.reason.message),
    [],
    'an item found held stays held until its search is ranked',
  )
  // Reranks given vectors: an eviction queued by one may not take an item
  // another found held.
  const small = new Reranker({ dimensions: data.dim, maxItems: 4, learning: { background: false } })
  const given = (i) => ({ id: String(i), vector: data.items[i] })
  const q = data.queries[0]
  await small.rerank(q, [given(0), given(1)])
  const [a, b] = await Promise.all([small.rerank(q, [given(2), given(3), given(4)]), small.rerank(q, [given(0), given(5)])])
  assert.deepEqual(a.hits.map((h) => h.id).sort(), ['2', '3', '4'])
  assert.deepEqual(b.hits.map((h) => h.id).sort(), ['0', '5'])
  await small.save().catch(() => {}) // waits for evictions (an in-memory save is refused)
  await reranker.save().catch(() => {})
  assert.ok(small.size <= 4 && reranker.size <= 30, `sizes ${small.size}, ${reranker.size}`)
  await small.close()
  await reranker.close()
})

test('importFeedback keeps maxItems, and the items it brings count as just seen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-reranker-'))
  try {
    const data = intents({ seed: 28, items: 600 })
    const path = join(dir, 'learned.hgnn')
    const writer = new Reranker({ dimensions: data.dim, path, maxItems: 12, learning: { background: false } })
    const given = (i) => ({ id: String(i), vector: data.items[i] })
    await writer.rerank(data.queries[0], Array.from({ length: 10 }, (_, i) => given(i)))
    await writer.save()
    const reader = await Reranker.open(path, { readOnly: true })
    const shown = Array.from({ length: 8 }, (_, i) => given(100 + i))
    const { searchId, hits } = await reader.rerank(data.queries[1], shown, { k: 8 })
    await reader.feedback({ searchId, clicked: [hits[0].id] })
    const imported = await writer.importFeedback(reader.exportFeedback())
    assert.equal(imported.items, 8)
    await writer.save()
    assert.ok(writer.size <= 12, `size ${writer.size}`)
    assert.deepEqual(writer.missing(shown.map((c) => c.id)), [], 'the imported items are kept: the older ones went')
    await reader.close()
    await writer.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a rerank that fails stores nothing; k, metadata and options are checked first', async () => {
  const data = intents({ seed: 29, items: 200 })
  const reranker = new Reranker({ dimensions: data.dim, recentSearches: 50, learning: { background: false } })
  const q = data.queries[0]
  const fresh = [{ id: 'new', vector: data.items[0] }]
  for (const [query, options, code] of [
    [q.slice(1), undefined, 'ERR_DIMENSION_MISMATCH'],
    [Float32Array.from(q, (x, i) => (i === 2 ? 1e39 : x)), undefined, 'ERR_INVALID_VECTOR'],
    [q, { k: 2.5 }, 'ERR_INVALID_ARGUMENT'],
    [q, { rerank: 'yes' }, 'ERR_INVALID_ARGUMENT'],
    [q, { expand: true }, 'ERR_INVALID_ARGUMENT'],
  ]) {
    assertCode(await rejection(() => reranker.rerank(query, fresh, options)), code)
  }
  for (const metadata of [{ n: 1n }, { when: new Map() }, { x: NaN }]) {
    assertCode(await rejection(() => reranker.rerank(q, [{ ...fresh[0], metadata }])), 'ERR_INVALID_ARGUMENT')
  }
  assert.equal(reranker.size, 0)
  await reranker.close()
})

test("LearnedSearch ranks by the source's current score and shows its current metadata", async () => {
  const data = intents({ seed: 30, items: 300 })
  const inner = engine(data)
  const price = new Map()
  let offset = 0
  const source = {
    metric: 'cosine',
    search: async (query, options) => (await inner.search(query, options)).map(({ id, score }) => ({ id, score: score - offset, metadata: { price: price.get(id) ?? 10 } })),
    vectors: inner.vectors,
  }
  const reranker = new Reranker({ dimensions: data.dim, learning: { background: false } })
  const search = new LearnedSearch(source, reranker, { depth: 20 })
  const before = await search.search(data.queries[0], { k: 3 })
  price.set(before.hits[0].id, 99)
  offset = 0.25
  const after = await search.search(data.queries[0], { k: 3 })
  assert.deepEqual(after.hits[0].metadata, { price: 99 })
  assertClose(after.hits[0].baseScore, before.hits[0].baseScore - 0.25, 1e-6)
  await reranker.close()
})
