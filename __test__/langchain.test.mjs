// hnsw-gnn/langchain: HnswGnnStore checked by the checks of LangChain's
// Python `VectorStoreIntegrationTests` (langchain_tests), ported to
// node:test, plus what the store adds (filters, MMR, feedback, save/load).
// Embeddings are @langchain/core's deterministic test embeddings:
// SyntheticEmbeddings (a text's own vector, so "bar" finds "bar" first) and
// FakeEmbeddings (one vector for every text).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Document } from '@langchain/core/documents'
import { VectorStore } from '@langchain/core/vectorstores'
import { FakeEmbeddings, SyntheticEmbeddings } from '@langchain/core/utils/testing'
import { HnswGnnStore } from 'hnsw-gnn/langchain'

const require = createRequire(import.meta.url)
const embeddings = () => new SyntheticEmbeddings({ vectorSize: 6 })
const emptyStore = () => new HnswGnnStore(embeddings())
const doc = (pageContent, metadata = {}, id) => new Document({ pageContent, metadata, id })
/** Documents compared as LangChain's tests compare them: content, metadata and id. */
const plain = (documents) => documents.map((d) => ({ pageContent: d.pageContent, metadata: d.metadata, id: d.id }))

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-langchain-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

describe('VectorStoreIntegrationTests, ported', () => {
  test('vectorstore is empty', async () => {
    assert.deepEqual(await emptyStore().similaritySearch('foo', 1), [])
  })

  test('add documents: ids are generated, the nearest comes first, inputs are not mutated', async () => {
    const store = emptyStore()
    const documents = [doc('foo', { id: 1 }), doc('bar', { id: 2 })]
    const before = structuredClone(plain(documents))
    const ids = await store.addDocuments(documents)
    assert.equal(ids.length, 2)
    assert.notEqual(ids[0], ids[1])
    assert.deepEqual(plain(await store.similaritySearch('bar', 2)), [
      { pageContent: 'bar', metadata: { id: 2 }, id: ids[1] },
      { pageContent: 'foo', metadata: { id: 1 }, id: ids[0] },
    ])
    assert.deepEqual(plain(documents), before, 'addDocuments leaves the caller’s documents alone')
  })

  test('vectorstore is still empty (a new store shares nothing)', async () => {
    assert.deepEqual(await emptyStore().similaritySearch('foo', 1), [])
  })

  test('deleting documents', async () => {
    const store = emptyStore()
    await store.addDocuments([doc('foo', { id: 1 }), doc('bar', { id: 2 })], { ids: ['1', '2'] })
    await store.delete({ ids: ['1'] })
    assert.deepEqual(plain(await store.similaritySearch('foo', 1)), [{ pageContent: 'bar', metadata: { id: 2 }, id: '2' }])
  })

  test('deleting bulk documents', async () => {
    const store = emptyStore()
    await store.addDocuments([doc('foo', { id: 1 }), doc('bar', { id: 2 }), doc('baz', { id: 3 })], { ids: ['1', '2', '3'] })
    await store.delete({ ids: ['1', '2'] })
    assert.deepEqual(plain(await store.similaritySearch('foo', 1)), [{ pageContent: 'baz', metadata: { id: 3 }, id: '3' }])
  })

  test('deleting missing content is not an error', async () => {
    const store = emptyStore()
    await store.delete({ ids: ['1'] })
    await store.addDocuments([doc('foo')], { ids: ['a'] })
    await store.delete({ ids: ['1', '2', '3'] })
    assert.equal(store.db.size, 1)
  })

  test('adding documents with ids is idempotent', async () => {
    const store = emptyStore()
    const documents = [doc('foo', { id: 1 }), doc('bar', { id: 2 })]
    await store.addDocuments(documents, { ids: ['1', '2'] })
    await store.addDocuments(documents, { ids: ['1', '2'] })
    assert.deepEqual(plain(await store.similaritySearch('bar', 10)), [
      { pageContent: 'bar', metadata: { id: 2 }, id: '2' },
      { pageContent: 'foo', metadata: { id: 1 }, id: '1' },
    ])
  })

  test('adding a document by an existing id replaces it', async () => {
    const store = emptyStore()
    await store.addDocuments([doc('foo', { id: 1 }), doc('bar', { id: 2 })], { ids: ['1', '2'] })
    await store.addDocuments([doc('new foo', { id: 'new' })], { ids: ['1'] })
    assert.deepEqual(plain(await store.similaritySearch('new foo', 10)), [
      { pageContent: 'new foo', metadata: { id: 'new' }, id: '1' },
      { pageContent: 'bar', metadata: { id: 2 }, id: '2' },
    ])
  })

  test('getByIds returns documents in the order asked', async () => {
    const store = emptyStore()
    await store.addDocuments([doc('foo', { id: 1 }), doc('bar', { id: 2 })], { ids: ['1', '2'] })
    assert.deepEqual(plain(await store.getByIds(['2', '1'])), [
      { pageContent: 'bar', metadata: { id: 2 }, id: '2' },
      { pageContent: 'foo', metadata: { id: 1 }, id: '1' },
    ])
  })

  test('getByIds leaves out missing ids', async () => {
    const store = emptyStore()
    assert.deepEqual(await store.getByIds(['1', '2', '3']), [])
    await store.addDocuments([doc('foo')], { ids: ['2'] })
    assert.deepEqual(plain(await store.getByIds(['1', '2', '3'])), [{ pageContent: 'foo', metadata: {}, id: '2' }])
  })

  test('documents that carry their own ids keep them', async () => {
    const store = emptyStore()
    const documents = [doc('foo', { id: 1 }, 'foo-id'), doc('bar', { id: 2 }, 'bar-id')]
    const ids = await store.addDocuments(documents)
    assert.deepEqual(ids, ['foo-id', 'bar-id'])
    assert.deepEqual(plain(await store.getByIds(ids)), plain(documents))
  })

  test('documents with and without ids mix', async () => {
    const store = emptyStore()
    const ids = await store.addDocuments([doc('foo', { id: 1 }, 'foo'), doc('bar', { id: 2 })])
    assert.equal(ids[0], 'foo')
    assert.equal(typeof ids[1], 'string')
    assert.deepEqual(plain(await store.getByIds(ids)), [
      { pageContent: 'foo', metadata: { id: 1 }, id: 'foo' },
      { pageContent: 'bar', metadata: { id: 2 }, id: ids[1] },
    ])
  })

  test('no score threshold: k beyond the store returns every document, scores higher-is-better', async () => {
    const store = emptyStore()
    await store.addDocuments([doc('foo'), doc('bar'), doc('zzzzzzzz qqq')], { ids: ['1', '2', '3'] })
    const scored = await store.similaritySearchWithScore('foo', 10)
    assert.deepEqual(scored.map(([d]) => d.id).sort(), ['1', '2', '3'])
    assert.equal(scored[0][0].id, '1')
    const scores = scored.map(([, s]) => s)
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a))
    assert.ok(Math.abs(scores[0] - 1) < 1e-5, `an identical text scores cosine 1, got ${scores[0]}`)
  })

  test('async paths: concurrent adds and searches, and a retriever', async () => {
    const store = emptyStore()
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']
    await Promise.all(words.map((w, i) => store.addDocuments([doc(w, { i })], { ids: [w] })))
    const found = await Promise.all(words.map((w) => store.similaritySearch(w, 1)))
    assert.deepEqual(found.map((r) => r[0].id), words)
    // The same new id from two concurrent adds: one replaces the other.
    await Promise.all([store.addDocuments([doc('eta one')], { ids: ['eta'] }), store.addDocuments([doc('eta two')], { ids: ['eta'] })])
    assert.equal(store.db.size, words.length + 1)
    const retrieved = await store.asRetriever(2).invoke('gamma')
    assert.equal(retrieved.length, 2)
    assert.equal(retrieved[0].id, 'gamma')
  })
})

describe('HnswGnnStore', () => {
  test('is a VectorStore from both module systems', () => {
    assert.ok(emptyStore() instanceof VectorStore, 'the ESM entry extends the ESM VectorStore')
    const cjs = require('hnsw-gnn/langchain')
    const cjsCore = require('@langchain/core/vectorstores')
    assert.ok(new cjs.HnswGnnStore(embeddings()) instanceof cjsCore.VectorStore, 'the CommonJS entry extends the CommonJS one')
    assert.equal(emptyStore()._vectorstoreType(), 'hnsw-gnn')
  })

  test('metadata round-trips and filters name the document’s own fields', async () => {
    const store = await HnswGnnStore.fromTexts(
      ['red shoe', 'blue shoe', 'red hat'],
      [{ kind: 'shoe', price: 40, tags: ['sale'] }, { kind: 'shoe', price: 90, nested: { a: 1 } }, { kind: 'hat', price: 15 }],
      embeddings(),
    )
    const shoes = await store.similaritySearch('red', 3, { kind: 'shoe' })
    assert.deepEqual(shoes.map((d) => d.pageContent).sort(), ['blue shoe', 'red shoe'])
    const cheap = await store.similaritySearch('red', 3, { $or: [{ price: { $lt: 20 } }, { tags: 'sale' }] })
    assert.deepEqual(cheap.map((d) => d.pageContent).sort(), ['red hat', 'red shoe'])
    const nested = await store.similaritySearch('shoe', 3, { 'nested.a': 1 })
    assert.deepEqual(plain(nested).map((d) => d.metadata), [{ kind: 'shoe', price: 90, nested: { a: 1 } }])
    // "pageContent" is the store's, not a metadata field: no document matches it.
    assert.deepEqual(await store.similaritySearch('red', 3, { pageContent: 'red hat' }), [])
    await assert.rejects(store.similaritySearch('red', 3, { price: { $near: 1 } }), { code: 'ERR_INVALID_FILTER' })
  })

  test('fromDocuments with FakeEmbeddings (one vector for all) still returns k documents', async () => {
    const store = await HnswGnnStore.fromDocuments([doc('a'), doc('b'), doc('c')], new FakeEmbeddings())
    assert.equal((await store.similaritySearch('anything', 2)).length, 2)
  })

  test('maxMarginalRelevanceSearch trades a near duplicate for a different document', async () => {
    const store = emptyStore()
    // Relevance to the query [1, 0, 0]: a 0.95, a-again 0.94, other 0.85;
    // a-again is a's near twin (cosine 0.999), other is not (0.64).
    const vectors = [[0.95, 0.312, 0], [0.94, 0.341, 0], [0.85, -0.527, 0]]
    await store.addVectors(vectors, [doc('a'), doc('a-again'), doc('other')], { ids: ['a', 'a2', 'b'] })
    store.embeddings = { embedQuery: async () => [1, 0, 0], embedDocuments: async (t) => t.map(() => [1, 0, 0]) }
    const nearest = await store.similaritySearch('q', 2)
    assert.deepEqual(nearest.map((d) => d.id), ['a', 'a2'])
    const diverse = await store.maxMarginalRelevanceSearch('q', { k: 2, fetchK: 3, lambda: 0.5 })
    assert.deepEqual(diverse.map((d) => d.id), ['a', 'b'])
    const relevanceOnly = await store.maxMarginalRelevanceSearch('q', { k: 2, fetchK: 3, lambda: 1 })
    assert.deepEqual(relevanceOnly.map((d) => d.id), ['a', 'a2'])
  })

  test('feedback reaches the database through retriever results, without touching metadata', async () => {
    const store = await HnswGnnStore.fromTexts(['foo', 'bar', 'baz', 'qux'], { source: 'kb' }, embeddings(), {
      learning: { background: false },
    })
    const docs = await store.asRetriever(3).invoke('bar')
    assert.deepEqual(docs.map((d) => d.metadata), [{ source: 'kb' }, { source: 'kb' }, { source: 'kb' }])
    const searchId = store.searchIdOf(docs[0])
    assert.equal(typeof searchId, 'string')
    assert.equal(store.searchIdOf(docs[2]), searchId, 'one search, one id')
    await store.feedback({ used: [docs[1]], converted: [docs[1]] })
    assert.equal(store.db.learningStats().sessions, 1)
    // By id, as an app that sent the documents elsewhere would.
    const again = await store.similaritySearch('qux', 2)
    await store.feedback({ searchId: store.searchIdOf(again[0]), used: [again[1].id] })
    assert.equal(store.db.learningStats().sessions, 2)
    await assert.rejects(store.feedback({ used: [doc('foo', {}, docs[0].id)] }), { code: 'ERR_INVALID_ARGUMENT' })
    await assert.rejects(store.feedback({ searchId, used: ['never-shown'] }), { code: 'ERR_INVALID_ARGUMENT' })
  })

  test('a directory store saves in place and loads with its documents and feedback', async (t) => {
    const dir = tempDir(t)
    const store = await HnswGnnStore.fromTexts(['foo', 'bar', 'baz'], [{ n: 1 }, { n: 2 }, { n: 3 }], embeddings(), {
      directory: dir,
      learning: { background: false },
    })
    const docs = await store.similaritySearch('bar', 2)
    await store.feedback({ used: [docs[0]] })
    await store.save(dir)
    await store.close()
    const loaded = await HnswGnnStore.load(dir, embeddings())
    assert.deepEqual(plain(await loaded.similaritySearch('bar', 2)), plain(docs))
    assert.equal(loaded.db.learningStats().sessions, 1, 'the feedback log is in the file')
    await loaded.addDocuments([doc('new', { n: 4 })], { ids: ['new'] })
    await loaded.close()
    const reopened = await HnswGnnStore.load(dir, embeddings())
    assert.equal(reopened.db.size, 4, 'a loaded store keeps writing to its file')
    await reopened.close()
  })

  test('an in-memory store saves a copy of its documents that loads', async (t) => {
    const dir = tempDir(t)
    const store = await HnswGnnStore.fromTexts(['foo', 'bar', 'baz'], [{ n: 1 }, { n: 2 }, { n: 3 }], embeddings())
    const docs = await store.similaritySearch('baz', 3)
    await store.save(dir)
    const loaded = await HnswGnnStore.load(dir, embeddings())
    assert.deepEqual(plain(await loaded.similaritySearch('baz', 3)), plain(docs))
    await loaded.close()
    assert.equal(store.db.size, 3, 'the original store goes on in memory')
  })

  test('bad input gets a clear error', async () => {
    const store = emptyStore()
    await assert.rejects(store.addVectors([[1, 2]], [doc('a'), doc('b')]), { code: 'ERR_INVALID_ARGUMENT' })
    await assert.rejects(store.addDocuments([doc('a')], { ids: ['x', 'y'] }), { code: 'ERR_INVALID_ARGUMENT' })
    await assert.rejects(store.delete({}), { code: 'ERR_INVALID_ARGUMENT' })
    await assert.rejects(store.save(os.tmpdir()), { code: 'ERR_INVALID_ARGUMENT' })
    await store.addDocuments([doc('foo')])
    await assert.rejects(store.similaritySearchVectorWithScore([1, 2], 1), { code: 'ERR_DIMENSION_MISMATCH' })
  })
})
