'use strict'
// `Reranker` — the learner without our index — and `LearnedSearch`, which
// puts it behind another engine's search (see index.d.ts). A Reranker is a
// VectorDB of the items it has seen: `rerank` stores the candidates it does
// not hold yet, then ranks the given candidates with the database's learned
// ranking (src/db/rerank.rs), so feedback, training, guardrails, saving and
// read-only followers are the VectorDB's own code.

const RERANKER_KEYS = ['dimensions', 'metric', 'path', 'learning', 'maxItems', 'm', 'efConstruction', 'efSearch', 'durability', 'checkpoint']
const OPEN_KEYS = ['readOnly', 'learning', 'maxItems', 'durability', 'checkpoint', 'recentSearches']
const RERANK_KEYS = ['k', 'rerank', 'expand']
const CANDIDATE_KEYS = ['id', 'vector', 'score', 'metadata']
const LEARNED_SEARCH_KEYS = ['depth']
const LEARNED_SEARCH_QUERY_KEYS = ['k', 'filter', 'expand']
// Items a reranker keeps by default: enough for a few hundred thousand
// distinct results at a few hundred dimensions (about 1.5 KB each at 384).
const DEFAULT_MAX_ITEMS = 1_000_000

module.exports = function defineReranker(internals) {
  const { VectorDB, nativeOf, sync, async, unpack, blockLength, requestedK, invalidArgument, codedError, otherKeys, idArgument } = internals
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

    rerank(query, candidates, options) {
      let prepared
      try {
        prepared = this.#prepare(candidates, options)
      } catch (error) {
        return Promise.reject(error)
      }
      const { ids, unheld } = prepared
      // Candidates not held are stored first (a writer) — off the JS
      // thread, as any insert — so that feedback on them is kept; ranking
      // itself is a few microseconds per candidate and runs here.
      const store = !this.#readOnly && unheld.length > 0
      const rank = () => sync(() => this.#rank(query, candidates, prepared, options))
      if (!store) {
        try {
          return Promise.resolve(rank())
        } catch (error) {
          return Promise.reject(error)
        }
      }
      const stored = this.#writes.then(() => this.#remember(candidates, unheld))
      this.#writes = stored.then(() => this.#evict(ids)).catch(() => {})
      return stored.then(rank)
    }

    #prepare(candidates, options) {
      checkKeys('rerank options', options, RERANK_KEYS)
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
      for (const i of unheld) {
        if (candidates[i].vector == null) throw notHeld(ids[i])
      }
      return { ids, scores, unheld }
    }

    #rank(query, candidates, { ids, scores, unheld }, options) {
      // ids and scores grow when expand adds items.
      const k = requestedK(options)
      const rerank = options == null || options.rerank === undefined ? true : options.rerank
      if (typeof rerank !== 'boolean') throw invalidArgument('rerank option rerank must be a boolean')
      if (numbers.length < blockLength(k)) numbers = new Float64Array(blockLength(k))
      // A reader cannot store new candidates: they are ranked from the
      // vectors given (by base score: no model knows them yet).
      const outside = this.#readOnly ? unheld : []
      const vectors = outside.map((i) => candidates[i].vector)
      const native = nativeOf(this.#db)
      const expand = options == null ? undefined : options.expand
      if (expand !== undefined && typeof expand !== 'function') {
        throw invalidArgument('rerank option expand must be a predicate ({ id, metadata }) => boolean that vets each item past similar queries clicked')
      }
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
        packed = native.rankCandidatesSync(query, ids, scores, outside, vectors, options == null || options.k === undefined ? 10 : options.k, rerank, numbers)
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

    #remember(candidates, unheld) {
      const dimensions = this.#db.dimensions
      const vectors = new Float32Array(unheld.length * dimensions)
      const ids = new Array(unheld.length)
      let metadata
      unheld.forEach((at, j) => {
        const c = candidates[at]
        ids[j] = c.id
        if (c.vector.length !== dimensions) {
          throw codedError(RangeError, 'ERR_DIMENSION_MISMATCH', `rerank candidate ${JSON.stringify(c.id)}: vector has ${c.vector.length} dimensions, expected ${dimensions}`)
        }
        vectors.set(c.vector, j * dimensions)
        if (c.metadata != null) (metadata ??= new Array(unheld.length).fill(null))[j] = JSON.stringify(c.metadata)
      })
      return async(() => nativeOf(this.#db).rememberCandidates(ids, vectors, metadata))
    }

    #lacks(id) {
      return nativeOf(this.#db).unheld([id]).length > 0
    }

    // Deletes the least recently seen items beyond maxItems (never one of
    // the candidates just ranked; the core keeps when each was last seen).
    async #evict(keep) {
      const over = this.#db.size - this.#maxItems
      if (over <= 0) return
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

    importFeedback(batch) {
      return this.#db.importFeedback(batch)
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
      const k = options == null || options.k === undefined ? 10 : options.k
      const filter = options == null ? undefined : options.filter
      const found = await this.#source.search(query, filter === undefined ? { k: Math.max(k, this.#depth) } : { k: Math.max(k, this.#depth), filter })
      const candidates = found.map(({ id, metadata }) => (metadata === undefined ? { id } : { id, metadata }))
      const missing = this.#reranker.missing(candidates.map((c) => c.id))
      if (missing.length > 0) {
        const vectors = await this.#source.vectors(missing)
        for (const c of candidates) {
          const vector = vectors.get(c.id)
          if (vector !== undefined) c.vector = vector
        }
      }
      // An item deleted at the source between the two queries is dropped.
      const known = missing.length === 0 ? candidates : candidates.filter((c) => c.vector !== undefined || !missing.includes(c.id))
      const expand = options == null ? undefined : options.expand
      return this.#reranker.rerank(query, known, expand === undefined ? { k } : { k, expand })
    }

    feedback(feedback) {
      return this.#reranker.feedback(feedback)
    }
  }

  return { Reranker, LearnedSearch }
}
