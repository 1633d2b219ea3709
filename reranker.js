'use strict'
// `Reranker` — the learner without our index — and `LearnedSearch`, which
// puts it behind another engine's search (see index.d.ts). A Reranker is a
// VectorDB of the items it has seen: `rerank` stores the candidates it does
// not hold yet, then ranks the given candidates with the database's learned
// ranking (src/db/rerank.rs), so feedback, training, guardrails, saving and
// read-only followers are the VectorDB's own code.

const RERANKER_KEYS = ['dimensions', 'metric', 'path', 'learning', 'maxItems', 'm', 'efConstruction', 'efSearch', 'durability', 'checkpoint', 'recentSearches']
const OPEN_KEYS = ['readOnly', 'learning', 'maxItems', 'durability', 'checkpoint', 'recentSearches']
const RERANK_KEYS = ['k', 'rerank', 'expand']
const CANDIDATE_KEYS = ['id', 'vector', 'score', 'metadata']
const LEARNED_SEARCH_KEYS = ['depth']
const LEARNED_SEARCH_QUERY_KEYS = ['k', 'filter', 'expand']
// Items a reranker keeps by default: enough for a few hundred thousand
// distinct results at a few hundred dimensions (about 1.5 KB each at 384).
const DEFAULT_MAX_ITEMS = 1_000_000

const { queryVector } = require('./sources/arguments.js')

module.exports = function defineReranker(internals) {
  const { VectorDB, nativeOf, sync, async, unpack, blockLength, invalidArgument, codedError, otherKeys, idArgument, jsonText, limits } = internals
  // Reranker internals LearnedSearch uses (symbol-keyed: not public API).
  const HOLD = Symbol('hold ids against eviction')
  let numbers = new Float64Array(blockLength(10))

  function checkKeys(what, options, known) {
    if (options == null) return
    if (typeof options !== 'object') throw invalidArgument(`${what} must be an object, got ${typeof options}`)
    const others = otherKeys(options, known)
    if (others) throw invalidArgument(`${what}: unknown key(s) ${others.map((k) => JSON.stringify(k)).join(', ')}; the keys are ${known.join(', ')}`)
  }

  function notHeld(id) {
    return codedError(Error, 'ERR_NOT_FOUND', `rerank candidate ${JSON.stringify(id)} is not held by this reranker: give its vector`)
  }

  function maxItemsOption(options) {
    const maxItems = options == null || options.maxItems === undefined ? DEFAULT_MAX_ITEMS : options.maxItems
    if (!Number.isInteger(maxItems) || maxItems < 1) throw invalidArgument(`maxItems must be a positive integer, got ${maxItems}`)
    return maxItems
  }

  /** `rerank`'s k (default 10), checked as `VectorDB.search` checks it. */
  function kOption(options) {
    const k = options == null || options.k === undefined ? 10 : options.k
    if (!Number.isInteger(k) || k < 1 || k > limits.maxK) throw invalidArgument(`k must be an integer from 1 to ${limits.maxK}, got ${k}`)
    return k
  }

  function without(options, keys) {
    if (options == null) return options
    const rest = { ...options }
    for (const key of keys) delete rest[key]
    return rest
  }

  /** The learned ranking of another engine's candidates (see index.d.ts). */
  class Reranker {
    #db
    #readOnly
    #maxItems
    // Evictions and stores run one at a time, in call order.
    #writes = Promise.resolve()
    // Ids of reranks and learned searches in progress, counted: eviction
    // spares them, so that an item found held stays held until ranked.
    #inUse = new Map()

    constructor(options) {
      if (options === Reranker.#wrap) return
      checkKeys('Reranker options', options, RERANKER_KEYS)
      if (options == null) throw invalidArgument('new Reranker({ dimensions, metric }) needs options')
      this.#maxItems = maxItemsOption(options)
      this.#db = new VectorDB(without(options, ['maxItems']))
      this.#readOnly = false
    }

    static #wrap = Symbol('wrap')

    /** Opens a reranker saved at `path`; `{ readOnly: true }` follows a writer. */
    static async open(path, options) {
      checkKeys('Reranker.open options', options, OPEN_KEYS)
      const maxItems = maxItemsOption(options)
      const db = await VectorDB.open(path, without(options, ['maxItems']))
      const reranker = new Reranker(Reranker.#wrap)
      reranker.#db = db
      reranker.#maxItems = maxItems
      reranker.#readOnly = Boolean(options && options.readOnly)
      return reranker
    }

    get size() {
      return this.#db.size
    }

    get dimensions() {
      return this.#db.dimensions
    }

    get metric() {
      return this.#db.metric
    }

    get maxItems() {
      return this.#maxItems
    }

    /** The ids of `ids` this reranker does not hold (their vectors are needed). */
    missing(ids) {
      if (!Array.isArray(ids)) throw invalidArgument('missing(ids) takes an array of ids')
      const positions = sync(() => nativeOf(this.#db).unheld(ids))
      return positions.map((i) => ids[i])
    }

    /** Spares `ids` from eviction until the returned release is called. */
    [HOLD](ids) {
      for (const id of ids) this.#inUse.set(id, (this.#inUse.get(id) ?? 0) + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        for (const id of ids) {
          const left = this.#inUse.get(id) - 1
          if (left === 0) this.#inUse.delete(id)
          else this.#inUse.set(id, left)
        }
      }
    }

    rerank(query, candidates, options) {
      let prepared
      try {
        prepared = this.#prepare(query, candidates, options)
      } catch (error) {
        return Promise.reject(error)
      }
      // Candidates not held are stored first (a writer) — off the JS
      // thread, as any insert — so that feedback on them is kept; ranking
      // itself is a few microseconds per candidate and runs here.
      const rank = () => sync(() => this.#rank(query, candidates, prepared))
      if (this.#readOnly || prepared.unheld.length === 0) {
        try {
          return Promise.resolve(rank())
        } catch (error) {
          return Promise.reject(error)
        }
      }
      const release = this[HOLD](prepared.ids)
      const stored = this.#writes.then(() => this.#remember(candidates, prepared.ids))
      this.#writes = stored.then(() => this.#evict()).catch(() => {})
      return stored.then(rank).finally(release)
    }

    /** Everything checked before anything is stored: a failed rerank leaves no trace. */
    #prepare(query, candidates, options) {
      checkKeys('rerank options', options, RERANK_KEYS)
      const k = kOption(options)
      const rerank = options == null || options.rerank === undefined ? true : options.rerank
      if (typeof rerank !== 'boolean') throw invalidArgument('rerank option rerank must be a boolean')
      const expand = options == null ? undefined : options.expand
      if (expand !== undefined && typeof expand !== 'function') {
        throw invalidArgument('rerank option expand must be a predicate ({ id, metadata }) => boolean that vets each item past similar queries clicked')
      }
      // The query too, before anything is stored (ranking checks it again natively).
      queryVector(query, this.#db.dimensions, this.#db.metric)
      if (!Array.isArray(candidates)) throw invalidArgument('rerank candidates must be an array of { id, vector?, score?, metadata? }')
      const ids = new Array(candidates.length)
      let scores
      let withVectors = false
      // Per candidate, so kept to plain checks: this loop is a share of a
      // rerank's few tens of microseconds.
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i]
        if (c === null || typeof c !== 'object') throw invalidArgument(`rerank candidate ${i} must be an object such as { id, vector }`)
        for (const key in c) {
          if (key !== 'id' && key !== 'vector' && key !== 'score' && key !== 'metadata') {
            throw invalidArgument(`rerank candidate ${i}: unknown key ${JSON.stringify(key)}; the keys are ${CANDIDATE_KEYS.join(', ')}`)
          }
        }
        if (typeof c.id !== 'string') throw invalidArgument(`rerank candidate ${i} needs a string id, got ${typeof c.id}`)
        ids[i] = idArgument(c.id)
        if (c.vector != null) withVectors = true
        if (c.score !== undefined) {
          if (typeof c.score !== 'number' || !Number.isFinite(c.score)) throw invalidArgument(`rerank candidate ${JSON.stringify(c.id)}: score must be a finite number`)
          ;(scores ??= new Float64Array(candidates.length).fill(NaN))[i] = c.score
        }
      }
      // Without vectors every candidate must be held, which ranking checks
      // (ERR_NOT_FOUND): no separate look-up.
      const unheld = withVectors ? sync(() => nativeOf(this.#db).unheld(ids)) : []
      const dimensions = this.#db.dimensions
      for (const i of unheld) {
        const { vector } = candidates[i]
        if (vector == null) throw notHeld(ids[i])
        if (vector.length !== dimensions) {
          throw codedError(RangeError, 'ERR_DIMENSION_MISMATCH', `rerank candidate ${JSON.stringify(ids[i])}: vector has ${vector.length} dimensions, expected ${dimensions}`)
        }
      }
      return { ids, scores, unheld, k, rerank, expand }
    }

    #rank(query, candidates, { ids, scores, unheld, k, rerank, expand }) {
      if (numbers.length < blockLength(k)) numbers = new Float64Array(blockLength(k))
      // A reader cannot store new candidates: they are ranked from the
      // vectors given (by base score: no model knows them yet).
      const outside = this.#readOnly ? unheld : []
      const vectors = outside.map((i) => candidates[i].vector)
      const native = nativeOf(this.#db)
      if (expand !== undefined && rerank) {
        // Items past similar queries clicked, vetted one by one by the
        // caller (tenant, filter): at most half as many as were given.
        const extra = native.expansionCandidates(query, ids, Math.ceil(ids.length / 2)).filter((item) => expand({ id: item.id, metadata: item.metadata ?? null }) === true)
        if (extra.length > 0) {
          ids = ids.concat(extra.map((item) => item.id))
          if (scores !== undefined) scores = Float64Array.from([...scores, ...extra.map(() => NaN)])
        }
      }
      let packed
      try {
        packed = native.rankCandidatesSync(query, ids, scores, outside, vectors, k, rerank, numbers)
      } catch (error) {
        const id = error.code === 'NotFound' || error.code === 'ERR_NOT_FOUND' ? ids.find((x) => this.#lacks(x)) : undefined
        throw id === undefined ? error : notHeld(id)
      }
      const result = unpack(packed, numbers, 0, k)
      if (outside.length > 0) {
        const byId = new Map(outside.map((i) => [ids[i], candidates[i]]))
        for (const hit of result.hits) if (hit.metadata == null && byId.has(hit.id)) hit.metadata = byId.get(hit.id).metadata ?? null
      }
      return result
    }

    // Stores the given candidates not held when it runs (an eviction queued
    // before may have taken one that was held when the rerank was called).
    #remember(candidates, ids) {
      const unheld = sync(() => nativeOf(this.#db).unheld(ids)).filter((i) => candidates[i].vector != null)
      if (unheld.length === 0) return undefined
      const dimensions = this.#db.dimensions
      const vectors = new Float32Array(unheld.length * dimensions)
      const unheldIds = new Array(unheld.length)
      let metadata
      unheld.forEach((at, j) => {
        const c = candidates[at]
        unheldIds[j] = ids[at]
        vectors.set(c.vector, j * dimensions)
        if (c.metadata != null) (metadata ??= new Array(unheld.length).fill(null))[j] = jsonText(c.metadata, `rerank candidate ${JSON.stringify(ids[at])}: metadata`)
      })
      return async(() => nativeOf(this.#db).rememberCandidates(unheldIds, vectors, metadata))
    }

    #lacks(id) {
      return nativeOf(this.#db).unheld([id]).length > 0
    }

    // Deletes the least recently seen items beyond maxItems, never one a
    // rerank or learned search in progress uses (the core keeps when each
    // item was last seen).
    async #evict() {
      const over = this.#db.size - this.#maxItems
      if (over <= 0) return
      const keep = [...this.#inUse.keys()]
      for (const id of sync(() => nativeOf(this.#db).leastRecentlySeen(over, keep))) await this.#db.delete(id)
    }

    feedback(feedback) {
      return this.#db.feedback(feedback)
    }

    train(options) {
      return this.#db.train(options)
    }

    learningStats() {
      return this.#db.learningStats()
    }

    resetLearning() {
      return this.#db.resetLearning()
    }

    exportFeedback() {
      return this.#db.exportFeedback()
    }

    async importFeedback(batch) {
      const imported = await this.#db.importFeedback(batch)
      // A batch may carry items this reranker did not hold: maxItems holds.
      if (imported.items > 0) this.#writes = this.#writes.then(() => this.#evict()).catch(() => {})
      return imported
    }

    stats() {
      return this.#db.stats()
    }

    async save(options) {
      await this.#writes
      return this.#db.save(options)
    }

    refresh() {
      return this.#db.refresh()
    }

    async close() {
      await this.#writes
      return this.#db.close()
    }
  }

  /** Another engine's search, reranked by a `Reranker` (see index.d.ts). */
  class LearnedSearch {
    #source
    #reranker
    #depth

    constructor(source, reranker, options) {
      if (source == null || typeof source.search !== 'function' || typeof source.vectors !== 'function') {
        throw invalidArgument('LearnedSearch needs a source with search(query, { k, filter }) and vectors(ids)')
      }
      if (!(reranker instanceof Reranker)) throw invalidArgument('LearnedSearch needs a Reranker')
      checkKeys('LearnedSearch options', options, LEARNED_SEARCH_KEYS)
      const depth = options == null || options.depth === undefined ? 100 : options.depth
      if (!Number.isInteger(depth) || depth < 1 || depth > internals.limits.maxK) {
        throw invalidArgument(`depth must be an integer from 1 to ${internals.limits.maxK}, got ${depth}`)
      }
      if (source.metric !== undefined && source.metric !== reranker.metric) {
        throw invalidArgument(`the source ranks by ${source.metric} and the reranker by ${reranker.metric}: use one metric`)
      }
      this.#source = source
      this.#reranker = reranker
      this.#depth = depth
    }

    get depth() {
      return this.#depth
    }

    /**
     * The source's best `depth` candidates, reranked: ids first, vectors
     * only for the candidates the reranker does not hold.
     */
    async search(query, options) {
      checkKeys('search options', options, LEARNED_SEARCH_QUERY_KEYS)
      const k = kOption(options)
      const filter = options == null ? undefined : options.filter
      const expand = options == null ? undefined : options.expand
      const depth = Math.max(k, this.#depth)
      const found = await this.#source.search(query, filter === undefined ? { k: depth } : { k: depth, filter })
      const release = this.#reranker[HOLD](found.map((hit) => hit.id))
      try {
        // Held items are spared eviction here, but a reader's refresh may
        // still drop one between the look-up and the ranking: then once
        // more, fetching what is missing now.
        for (let attempt = 0; ; attempt++) {
          try {
            return await this.#rerankFound(query, found, k, expand)
          } catch (error) {
            if (error.code !== 'ERR_NOT_FOUND' || attempt > 0) throw error
          }
        }
      } finally {
        release()
      }
    }

    async #rerankFound(query, found, k, expand) {
      // The source's score is current (the item's vector may have changed
      // there since the reranker stored it), so it is the base score.
      const candidates = found.map(({ id, score, metadata }) => {
        const c = { id }
        if (Number.isFinite(score)) c.score = score
        if (metadata !== undefined) c.metadata = metadata
        return c
      })
      const missing = this.#reranker.missing(candidates.map((c) => c.id))
      let known = candidates
      if (missing.length > 0) {
        const vectors = await this.#source.vectors(missing)
        for (const c of candidates) {
          const vector = vectors.get(c.id)
          if (vector !== undefined) c.vector = vector
        }
        // An item deleted at the source between the two queries is dropped.
        const lacking = new Set(missing)
        known = candidates.filter((c) => c.vector !== undefined || !lacking.has(c.id))
      }
      const result = await this.#reranker.rerank(query, known, expand === undefined ? { k } : { k, expand })
      // The source's metadata is current; the reranker's is what it stored
      // when it first saw the item.
      if (found.some((hit) => hit.metadata !== undefined)) {
        const metadata = new Map(found.map((hit) => [hit.id, hit.metadata]))
        for (const hit of result.hits) if (metadata.has(hit.id)) hit.metadata = metadata.get(hit.id) ?? null
      }
      return result
    }

    feedback(feedback) {
      return this.#reranker.feedback(feedback)
    }
  }

  return { Reranker, LearnedSearch }
}
