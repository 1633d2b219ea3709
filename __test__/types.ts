// Type-level usage of the public API: every exported type and method, and a
// few misuses that the declarations must reject. Checked (never run) by
//   npx tsc --noEmit -p __test__/tsconfig.json
import {
  VectorDB,
  simdInfo,
  limits,
  aggregate,
  aggregateSync,
  type Limits,
  type ErrorCode,
  type HnswGnnError,
  type Metric,
  type Durability,
  type Filter,
  type Snapshot,
  type GnnLayer,
  type Activation,
  type LayerOptions,
  type SaveWeightsOptions,
  type VectorDbOptions,
  type ItemInput,
  type ItemUpdate,
  type InsertBatchOptions,
  type SearchOptions,
  type SearchHit,
  type SearchResult,
  type StoredItem,
  type SimdInfo,
  type DatabaseStats,
  type OpenDbOptions,
  Graph,
  GCNLayer,
  GATLayer,
  GraphSAGE,
  type Matrix,
  type CsrGraph,
  type AttentionOutput,
  type Features,
  type GraphInput,
  type GCNLayerOptions,
  type GATLayerOptions,
  type GraphSAGEOptions,
  HalfFeatures,
  type GraphOptions,
} from '../index.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function assertType<T extends true>(): T | void {}

async function main(): Promise<void> {
  // ---------------------------------------------------------- construction --
  const options: VectorDbOptions = {
    dimensions: 4,
    metric: 'euclidean',
    m: 16,
    efConstruction: 200,
    efSearch: 64,
    recentSearches: 10_000,
  }
  const db = new VectorDB(options)
  const minimal = new VectorDB({ dimensions: 4 })
  const alias: VectorDB = minimal

  const size: number = db.size
  const dimensions: number = db.dimensions
  const metric: 'cosine' | 'euclidean' | 'dot' = alias.metric
  assertType<Equal<typeof db.metric, 'cosine' | 'euclidean' | 'dot'>>()

  // ----------------------------------------------------------------- writes --
  const item: ItemInput = { id: 'a', vector: new Float32Array(4), metadata: { color: 'red', nested: { n: 1 }, tags: ['x'] } }
  const id: string = await db.insert(item)
  await db.insert({ vector: [1, 2, 3, 4] })
  await db.insert({ vector: [1, 2, 3, 4], metadata: null })

  const progress: InsertBatchOptions = {
    onProgress: (done: number, total: number): void => {
      console.log(done / total)
    },
  }
  const ids: string[] = await db.insertBatch([item, { vector: [0, 0, 0, 1] }], progress)
  await db.insertBatch([{ vector: [1, 1, 1, 1] }])
  await db.insertBatch([{ vector: [1, 1, 1, 1] }], null)
  await db.insertBatch({ ids: ['f1', 'f2'], vectors: new Float32Array(8).fill(1), metadata: [{ a: 1 }, null] })
  await db.insertBatch({ vectors: new Float32Array(4).fill(1) }, progress)
  await db.insertBatch([{ vector: [1, 1, 1, 1] }], { onProgress: () => undefined })

  const upserted: string = await db.upsert({ id: 'a', vector: [4, 3, 2, 1] })

  const change: ItemUpdate = { vector: [1, 2, 3, 4] }
  const updated: void = await db.update('a', change)
  await db.update('a', { metadata: { color: 'blue' } })
  await db.update('a', { metadata: null })
  await db.update('a', {})

  const deleted: boolean = await db.delete('a')

  // ------------------------------------------------------------------ reads --
  const stored: StoredItem | null = await db.get(id)
  const storedSync: StoredItem | null = db.getSync(id)
  if (stored !== null) {
    const vector: Float32Array = stored.vector
    const metadata: Record<string, unknown> | null = stored.metadata
    const storedId: string = stored.id
    console.log(vector, metadata, storedId)
  }

  // ---------------------------------------------------------------- search --
  const searchOptions: SearchOptions = { k: 5, efSearch: 100, filter: { color: 'red', price: { $lt: 20 } } }
  const result: SearchResult = await db.search(new Float32Array(4), searchOptions)
  const resultFromArray: SearchResult = await db.search([1, 2, 3, 4])
  const sync: SearchResult = db.searchSync([1, 2, 3, 4], { k: 1 })
  const syncF32: SearchResult = db.searchSync(new Float32Array(4))
  const batch: SearchResult[] = await db.searchBatch([new Float32Array(4), [1, 2, 3, 4]], { k: 3 })
  const flatBatch: SearchResult[] = await db.searchBatch(new Float32Array(8))

  const searchId: string = result.searchId
  const hit: SearchHit | undefined = result.hits[0]
  if (hit) {
    const hitId: string = hit.id
    const score: number = hit.score
    const distance: number = hit.distance
    const hitMetadata: Record<string, unknown> | null = hit.metadata
    console.log(hitId, score, distance, hitMetadata)
  }

  // ------------------------------------------------------------------- misc --
  const info: SimdInfo = simdInfo()
  const active: string = info.active
  const available: string[] = info.available
  const bounds: Readonly<Limits> = limits
  const maxK: number = bounds.maxK
  // @ts-expect-error: limits are read-only
  limits.maxK = 5
  const code: ErrorCode = 'ERR_NOT_FOUND'
  // @ts-expect-error: codes are the listed ones
  const badCode: ErrorCode = 'ERR_NOPE'
  try {
    await db.get('a')
  } catch (error) {
    const typed = error as HnswGnnError
    const which: ErrorCode = typed.code
    const message: string = typed.message
    console.log(which, message)
  }
  const someMetric: Metric = 'dot'
  const someDurability: Durability = 'none'
  const someFilter: Filter = { $or: [{ a: 1 }, { b: { $in: [1, 2] } }] }
  const target = [maxK, code, badCode, someMetric, someDurability, someFilter]

  console.log(size, dimensions, metric, ids, upserted, updated, deleted, storedSync, resultFromArray, sync, syncF32)
  console.log(batch, flatBatch, searchId, active, available, target)

  // --------------------------------------------- misuse the types must reject --
  // @ts-expect-error: unknown metric
  new VectorDB({ dimensions: 4, metric: 'manhattan' })
  // @ts-expect-error: dimensions is required
  new VectorDB({ metric: 'cosine' })
  // @ts-expect-error: options are required
  new VectorDB()
  // @ts-expect-error: a string is not a vector
  await db.insert({ vector: 'abcd' })
  // @ts-expect-error: the vector is required
  await db.insert({ id: 'x' })
  // ------------------------------------------------------------ persistence --
  const persistent = new VectorDB({ dimensions: 4, path: '/tmp/types-check.hgnn', durability: 'fsync' })
  const openOptions: OpenDbOptions = { readOnly: true, durability: 'batch' }
  const opened: VectorDB = await VectorDB.open('/tmp/types-check.hgnn', openOptions)
  const saved: void = await persistent.save()
  const stats: DatabaseStats = opened.stats()
  const mapped: boolean = stats.vectorsMapped
  const walBytes: number = stats.walBytes
  const fileMapping: 'mmap' | 'read' = stats.fileMapping
  const fileLock: 'flock' | 'none' | null = stats.fileLock
  const walHandle: 'held' | 'reopened' | null = stats.walHandle
  await opened.close()
  console.log(saved, mapped, walBytes, fileMapping, fileLock, walHandle)
  // @ts-expect-error: durability is one of three names
  new VectorDB({ dimensions: 4, path: 'x.hgnn', durability: 'sometimes' })
  // @ts-expect-error: open needs a path
  await VectorDB.open()

  // @ts-expect-error: metadata must be an object
  await db.insert({ vector: [1, 2, 3, 4], metadata: 'red' })
  // @ts-expect-error: ids are strings
  await db.insert({ id: 7, vector: [1, 2, 3, 4] })
  // @ts-expect-error: a string is not a query vector
  db.searchSync('abcd')
  // @ts-expect-error: a string is not a query vector
  await db.search('abcd')
  // @ts-expect-error: k is a number
  db.searchSync([1, 2, 3, 4], { k: '5' })
  // @ts-expect-error: a flat number[] is not accepted by searchBatch (use Float32Array)
  await db.searchBatch([1, 2, 3, 4])
  // @ts-expect-error: update needs a change set
  await db.update('a')
  // @ts-expect-error: update's vector must be a vector
  await db.update('a', { vector: 'abcd' })
  // @ts-expect-error: onProgress receives numbers
  await db.insertBatch([], { onProgress: (done: string) => console.log(done) })
  // @ts-expect-error: size is read-only
  db.size = 3
  // @ts-expect-error: search resolves to a SearchResult, not an array
  const wrong: SearchHit[] = await db.search([1, 2, 3, 4])
  // @ts-expect-error: get may resolve to null
  const notNull: StoredItem = await db.get('a')
  // @ts-expect-error: scores are numbers
  const scoreText: string = result.hits[0]!.score
  console.log(wrong, notNull, scoreText)

  // ------------------------------------------------------------ GNN layers --
  const snapshot: Snapshot = await db.snapshot()
  const controller = new AbortController()
  await db.snapshot({ signal: controller.signal })
  await db.insertBatch([{ vector: [1, 1, 1, 1] }], { signal: AbortSignal.timeout(10_000), onProgress: () => undefined })
  await db.save({ signal: controller.signal }).catch((e: HnswGnnError) => e.code === 'ERR_ABORTED')
  await db.train({}).catch(() => undefined)
  const reclaimed: boolean = await db.compact()
  const checkpoints: number = db.stats().checkpoints
  const checkpointError: string | null = db.stats().lastCheckpointError
  console.log(reclaimed, checkpoints, checkpointError)
  const graph: Graph = snapshot.graph
  const nodeIds: string[] = snapshot.ids
  const csr: CsrGraph = graph.csr()
  const vectors: Matrix = snapshot.features
  const edges: number = graph.numEdges + graph.numNodes
  const mean: Matrix = await aggregate(vectors, graph, 'mean')
  const max: Matrix = aggregateSync(vectors, [[1], [0]], 'max')
  const asLayer: GnnLayer = new GCNLayer({ inputDim: 4, outputDim: 4 })
  const activation: Activation = 'gelu'
  const layerOptions: LayerOptions = { inputDim: 4, outputDim: 4, activation, activationParameter: 0.1 }
  const saveOptions: SaveWeightsOptions = { weightType: 'f16' }
  console.log(edges, mean, max, asLayer.config, layerOptions, saveOptions)
  const features: Features = vectors
  const input: GraphInput = graph
  const gcnOptions: GCNLayerOptions = { inputDim: 4, outputDim: 2, activation: 'relu', selfLoops: true }
  const gcn = new GCNLayer(gcnOptions)
  const out: Matrix = await gcn.forward(features, input)
  const outSync: Matrix = gcn.forwardSync(new Float32Array(8), [[1], [0]])
  await gcn.forward(out, { offsets: csr.offsets, targets: csr.targets })
  const gatOptions: GATLayerOptions = { inputDim: 4, outputDim: 8, numHeads: 4, concatHeads: true, dropout: 0.1, leakyReluSlope: 0.2 }
  const gat = new GATLayer(gatOptions)
  const attention: AttentionOutput = await gat.forwardWithAttention(vectors, graph)
  const alpha: number = attention.attention[0]! * attention.heads
  const sageOptions: GraphSAGEOptions = { inputDim: 4, outputDim: 2, numLayers: 2, aggregator: 'lstm', sampleSizes: [10, 5], normalize: true }
  const sage = new GraphSAGE(sageOptions)
  const batchRows: Matrix = await sage.forwardMinibatch(vectors, graph, [0, 1])
  sage.forwardMinibatchSync(vectors, graph, new Uint32Array([0]))
  await sage.saveWeights('/tmp/model.weights', { weightType: 'int8' })
  sage.loadWeightsSync('/tmp/model.weights')
  const weightsMapped: boolean = sage.weightsMapped
  const weight: Matrix | undefined = sage.weights()['0.weight']
  console.log(nodeIds, outSync, alpha, batchRows, weightsMapped, weight, gcn.inputDim + gcn.outputDim)
  // @ts-expect-error: only GraphSAGE has minibatches
  gcn.forwardMinibatch(vectors, graph, [0])
  // @ts-expect-error: only GAT returns attention
  sage.forwardWithAttention(vectors, graph)
  // @ts-expect-error: aggregators are named
  new GraphSAGE({ inputDim: 4, outputDim: 2, aggregator: 'median' })
  // @ts-expect-error: inputDim is required
  new GCNLayer({ outputDim: 2 })
  // @ts-expect-error: weight types are named
  await gcn.saveWeights('/tmp/x', { weightType: 'f8' })
  // @ts-expect-error: snapshots replaced graph() and vectors()
  db.graph()
  // @ts-expect-error: nothing private is typed
  db._search([1, 2, 3, 4])
  // @ts-expect-error: an aggregation is named
  aggregateSync(vectors, graph, 'median')

  // ------------------------------------------------------ half precision --
  const graphOptions: GraphOptions = { precision: 'f16' }
  const halfGraph = new Graph({ offsets: new Uint32Array([0, 0]), targets: new Uint32Array(0) }, graphOptions)
  const precision: 'f32' | 'f16' = halfGraph.precision
  const halfFeatures = new HalfFeatures({ data: new Float32Array(4), rows: 1, cols: 4 })
  const halfRows: number = halfFeatures.rows + halfFeatures.cols
  const widened: Matrix = halfFeatures.toMatrix()
  const halfSum: Matrix = aggregateSync(halfFeatures, halfGraph, 'mean')
  const halfAsync: Promise<Matrix> = aggregate(halfFeatures, halfGraph, 'sum')
  void [precision, halfRows, widened, halfSum, halfAsync]
  // @ts-expect-error: precisions are named
  new Graph({ offsets: new Uint32Array([0]), targets: new Uint32Array(0) }, { precision: 'f8' })
}

void main()

// Reranker and LearnedSearch (issue 19).
import { Reranker, LearnedSearch, type CandidateSource, type RerankCandidate } from '../index.js'
async function rerankerTypes(): Promise<void> {
  const reranker = new Reranker({ dimensions: 3, maxItems: 1000, learning: { background: false } })
  const candidates: RerankCandidate[] = [{ id: 'a', vector: new Float32Array(3), score: 0.5, metadata: { lang: 'en' } }, { id: 'b' }]
  const missing: string[] = reranker.missing(['a', 'b'])
  const { searchId, hits } = await reranker.rerank([1, 0, 0], candidates, { k: 5 })
  const base: number = hits[0].baseScore
  await reranker.feedback({ searchId, clicked: [hits[0].id] })
  const batch: Uint8Array = reranker.exportFeedback()
  const imported: { sessions: number; items: number } = await reranker.importFeedback(batch)
  const source: CandidateSource = {
    metric: 'cosine',
    search: async () => [{ id: 'a', score: 1 }],
    vectors: async (ids) => new Map(ids.map((id) => [id, new Float32Array(3)])),
  }
  const search = new LearnedSearch(source, reranker, { depth: 50 })
  const result = await search.search([1, 0, 0], { k: 3, filter: { lang: 'en' } })
  const reader = await Reranker.open('learned.hgnn', { readOnly: true, maxItems: 10 })
  const changed: boolean = await reader.refresh()
  void [missing, base, imported, result, changed]
}
void rerankerTypes
