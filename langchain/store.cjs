'use strict'
// HnswGnnStore: a LangChain.js VectorStore over a hnsw-gnn VectorDB.
//
// The class is made by a factory so that the CommonJS entry (index.cjs)
// and the ES module entry (index.mjs) each extend the VectorStore of their
// own module system: @langchain/core ships both, and a subclass of the
// other one would fail LangChain's instanceof checks (the dual-package
// hazard). Types and docs: index.d.ts.
//
// How a document is stored: the item's metadata is
// `{ pageContent, metadata }`, so the user's metadata keys never mix with
// ours, and filters on the user's fields are rewritten to `metadata.<field>`
// (dotted paths, which hnsw-gnn's filters support).
//
// How feedback finds its search: every Document a search returns is a new
// object, remembered in a WeakMap with the search id that returned it, so
// `feedback({ used: documents })` needs nothing written into the user's
// metadata and forgets documents the app drops. Apps that serialise
// documents (to a browser, a queue) read `searchIdOf(document)` and later
// call `feedback({ searchId, used: [document.id] })`.

const fs = require('node:fs')
const path = require('node:path')
const { VectorDB } = require('../index.js')

/** The database file inside a store's directory. */
const DATABASE_FILE = 'hnsw-gnn.hgnn'
/** Store options that are not VectorDB options. */
const STORE_KEYS = new Set(['db', 'directory'])

function invalidArgument(message) {
  const error = new TypeError(message)
  error.code = 'ERR_INVALID_ARGUMENT'
  return error
}

/** `{ source: 'a', $or: [{ year: { $gt: 2000 } }] }` → the same on `metadata.<field>`. */
function userFilter(filter) {
  if (filter === undefined || filter === null) return undefined
  if (typeof filter !== 'object' || Array.isArray(filter)) {
    throw invalidArgument('a filter is an object of metadata fields (see hnsw-gnn filters)')
  }
  const out = {}
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      out[key] = Array.isArray(value) ? value.map(userFilter) : value // the core rejects a non-array
    } else if (key.startsWith('$')) {
      out[key] = value // the core rejects an unknown operator with ERR_INVALID_FILTER
    } else {
      out[`metadata.${key}`] = value
    }
  }
  return out
}

/** The ids `insertBatch` stored, or null if one of them existed (then it stored nothing). */
async function insertOrNull(db, items) {
  try {
    return await db.insertBatch(items)
  } catch (error) {
    if (error.code === 'ERR_DUPLICATE_ID') return null
    throw error
  }
}

function createStoreClass({ VectorStore, Document, maximalMarginalRelevance }) {
  class HnswGnnStore extends VectorStore {
    /** The documents returned by searches, and the search that returned each. */
    #searchOf = new WeakMap()
    #db
    #dbOptions
    #directory

    _vectorstoreType() {
      return 'hnsw-gnn'
    }

    constructor(embeddings, options = {}) {
      super(embeddings, options)
      const dbOptions = {}
      for (const [key, value] of Object.entries(options)) {
        if (!STORE_KEYS.has(key)) dbOptions[key] = value
      }
      this.#dbOptions = dbOptions
      this.#db = options.db
      this.#directory = options.directory
    }

    /** The database, or `undefined` until the first documents arrive (the embeddings' width is not known before). */
    get db() {
      return this.#db
    }

    #database(dimensions) {
      if (!this.#db) {
        const options = { metric: 'cosine', ...this.#dbOptions, dimensions }
        if (this.#directory) {
          fs.mkdirSync(this.#directory, { recursive: true })
          options.path = path.join(this.#directory, DATABASE_FILE)
        }
        this.#db = new VectorDB(options)
      }
      return this.#db
    }

    async addDocuments(documents, options) {
      const vectors = await this.embeddings.embedDocuments(documents.map((d) => d.pageContent))
      return this.addVectors(vectors, documents, options)
    }

    /**
     * Adds or replaces documents with their vectors. An id comes from
     * `options.ids`, else `document.id`, else is generated; adding an id
     * again replaces that document.
     */
    async addVectors(vectors, documents, options = {}) {
      if (vectors.length !== documents.length) {
        throw invalidArgument(`${vectors.length} vectors for ${documents.length} documents`)
      }
      if (options.ids && options.ids.length !== documents.length) {
        throw invalidArgument(`${options.ids.length} ids for ${documents.length} documents`)
      }
      if (documents.length === 0) return []
      const db = this.#database(vectors[0].length)
      const items = documents.map((document, i) => {
        const id = options.ids?.[i] ?? document.id ?? undefined
        const metadata = { pageContent: document.pageContent, metadata: document.metadata ?? {} }
        return id === undefined ? { vector: vectors[i], metadata } : { id, vector: vectors[i], metadata }
      })
      // Usually every id is new: one parallel batch, nothing looked up.
      // Otherwise (the batch stored nothing) new ids go in one batch and
      // ids already stored or repeated within this call are replaced one
      // by one, last one wins; a concurrent add of the same new id makes
      // that batch fail too, and its items are replaced instead.
      const storedIds = await insertOrNull(db, items)
      if (storedIds) return storedIds
      const seen = new Set()
      const fresh = []
      const replacing = []
      for (const item of items) {
        const known = item.id !== undefined && (seen.has(item.id) || db.getSync(item.id) !== null)
        if (item.id !== undefined) seen.add(item.id)
        ;(known ? replacing : fresh).push(item)
      }
      const freshIds = await insertOrNull(db, fresh)
      if (freshIds) fresh.forEach((item, i) => (item.id = freshIds[i]))
      for (const item of freshIds ? replacing : fresh.concat(replacing)) item.id = await db.upsert(item)
      return items.map((item) => item.id)
    }

    /**
     * The `k` nearest documents with their `score` (higher is better: the
     * hit's `score`, learned once a model serves, else the metric's
     * similarity).
     */
    async similaritySearchVectorWithScore(query, k, filter) {
      const found = await this.#search(query, k, filter)
      return found.hits.map((hit) => [this.#document(hit, found.searchId), hit.score])
    }

    async #search(query, k, filter) {
      if (!this.#db || this.#db.size === 0) return { searchId: null, hits: [] }
      return this.#db.search(query, { k, filter: userFilter(filter) })
    }

    #document(hit, searchId) {
      const stored = hit.metadata
      const document = new Document({ pageContent: stored.pageContent, metadata: stored.metadata, id: hit.id })
      if (searchId) this.#searchOf.set(document, searchId)
      return document
    }

    /**
     * Maximal marginal relevance: `fetchK` nearest (default 20), then `k`
     * of them (default 4) picked for relevance and diversity (`lambda`,
     * default 0.5; 1 is relevance only).
     */
    async maxMarginalRelevanceSearch(query, options = {}) {
      const { k = 4, fetchK = 20, lambda = 0.5, filter } = options
      const queryVector = await this.embeddings.embedQuery(query)
      const found = await this.#search(queryVector, fetchK, filter)
      if (found.hits.length === 0) return []
      const vectors = found.hits.map((hit) => Array.from(this.#db.getSync(hit.id).vector))
      const picked = maximalMarginalRelevance(queryVector, vectors, lambda, k)
      return picked.map((i) => this.#document(found.hits[i], found.searchId))
    }

    /** Deletes the documents with these ids; unknown ids are ignored. */
    async delete(params = {}) {
      const { ids } = params
      if (!Array.isArray(ids)) throw invalidArgument('delete takes { ids: string[] }')
      if (!this.#db) return
      for (const id of ids) await this.#db.delete(id)
    }

    /** The stored documents with these ids, in that order; unknown ids are left out. */
    async getByIds(ids) {
      if (!this.#db) return []
      const stored = await Promise.all(ids.map((id) => this.#db.get(id)))
      return stored
        .filter((item) => item !== null)
        .map((item) => new Document({ pageContent: item.metadata.pageContent, metadata: item.metadata.metadata, id: item.id }))
    }

    /** The search id behind a document a search of this store returned, or `undefined`. */
    searchIdOf(document) {
      return this.#searchOf.get(document)
    }

    /**
     * Reports which retrieved documents were used (a click) and which led
     * to an outcome the app values (a conversion), so later searches rank
     * like them higher. Pass the Document objects a search or retriever
     * returned (their search is remembered), or `{ searchId, used: ids }`.
     */
    async feedback({ searchId, used = [], converted = [] } = {}) {
      if (!this.#db) throw invalidArgument('feedback before any search')
      const bySearch = new Map()
      const add = (entry, kind) => {
        const isDocument = typeof entry === 'object' && entry !== null
        const search = isDocument ? (searchId ?? this.#searchOf.get(entry)) : searchId
        const id = isDocument ? entry.id : entry
        if (!search) {
          throw invalidArgument('feedback needs documents returned by a search of this store, or a searchId')
        }
        if (!bySearch.has(search)) bySearch.set(search, { searchId: search, clicked: [], converted: [] })
        bySearch.get(search)[kind].push(id)
      }
      for (const entry of used) add(entry, 'clicked')
      for (const entry of converted) add(entry, 'converted')
      for (const session of bySearch.values()) await this.#db.feedback(session)
    }

    /**
     * Saves the store into `directory` as one database file. A store made
     * with that `directory` saves in place; any other store writes a copy
     * — with what it learned if it has a file of its own, and its documents
     * only if it lives in memory (give it a `directory` to keep learning
     * across restarts).
     */
    async save(directory) {
      const target = path.join(directory, DATABASE_FILE)
      fs.mkdirSync(directory, { recursive: true })
      const db = this.#db
      if (!db) throw invalidArgument('nothing to save: the store has no documents yet')
      const own = db.stats().path
      if (own !== null) {
        await db.save()
        if (path.resolve(own) !== path.resolve(target)) fs.copyFileSync(own, target)
        return
      }
      const { ids } = await db.snapshot()
      const copy = new VectorDB({ ...this.#dbOptions, dimensions: db.dimensions, metric: db.metric, path: target })
      try {
        const items = ids.map((id) => {
          const { vector, metadata } = db.getSync(id)
          return { id, vector, metadata }
        })
        await copy.insertBatch(items)
        await copy.save()
      } finally {
        await copy.close()
      }
    }

    /** Opens a store saved in `directory`; it keeps writing to that file. */
    static async load(directory, embeddings, options = {}) {
      const db = await VectorDB.open(path.join(directory, DATABASE_FILE), options)
      return new this(embeddings, { db, directory })
    }

    /** Closes the database (unsaved changes stay safe in its log if it has a file). */
    async close() {
      if (this.#db) await this.#db.close()
    }

    static async fromTexts(texts, metadatas, embeddings, options) {
      const documents = texts.map(
        (pageContent, i) => new Document({ pageContent, metadata: Array.isArray(metadatas) ? metadatas[i] : metadatas }),
      )
      return this.fromDocuments(documents, embeddings, options)
    }

    static async fromDocuments(documents, embeddings, options) {
      const store = new this(embeddings, options)
      await store.addDocuments(documents)
      return store
    }
  }
  return HnswGnnStore
}

module.exports = { createStoreClass, DATABASE_FILE }
