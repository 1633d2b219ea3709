// Public types of hnsw-gnn. Everything generated from the Rust doc comments
// lives in native.d.ts and is re-exported here; this file adds the search
// methods that index.js assembles in JavaScript.

export * from './native'

import type { SearchOptions, OpenDbOptions, Matrix, Graph, CsrGraph, AttentionOutput, SaveWeightsOptions } from './native'

/** One search hit. */
export interface SearchHit {
  /** The item's id. */
  id: string
  /**
   * Higher is closer: the cosine similarity (`cosine`), the dot product
   * (`dot`), or the negated squared euclidean distance (`euclidean`).
   */
  score: number
  /**
   * Lower is closer: `1 - cosine similarity`, `-dot`, or the squared
   * euclidean distance.
   */
  distance: number
  /** The item's metadata, or `null` when it has none. */
  metadata: Record<string, unknown> | null
}

/** What a search returns. */
export interface SearchResult {
  /** Names this search for later feedback; unique per search. */
  searchId: string
  /** At most `k` hits, closest first. */
  hits: SearchHit[]
}

declare module './native' {
  namespace VectorDB {
    /**
     * Opens an existing database file off the JS thread: validates it
     * (every section's checksum), memory-maps its vectors instead of
     * reading them into the heap, and replays its write-ahead log.
     * Rejects with `ERR_IO` (missing or unreadable file),
     * `ERR_CORRUPT_FILE`, `ERR_UNSUPPORTED_FORMAT` (written by a newer
     * hnsw-gnn) or `ERR_LOCKED` (another `VectorDB` is writing it; pass
     * `readOnly: true` to read alongside it).
     *
     * @example
     * const db = await VectorDB.open('shop.hgnn')
     */
    function open(path: string, options?: OpenDbOptions): Promise<VectorDB>
  }

  interface VectorDB {
    /**
     * The `k` nearest items to `query`, computed on the libuv thread pool.
     * Rejects with `ERR_DIMENSION_MISMATCH`, `ERR_INVALID_VECTOR`,
     * `ERR_INVALID_ARGUMENT` or `ERR_INVALID_FILTER` on bad input.
     *
     * @example
     * const { searchId, hits } = await db.search(query, { k: 10, filter: { color: 'red' } })
     */
    search(query: Float32Array | number[], options?: SearchOptions): Promise<SearchResult>
    /**
     * Like `search`, on the calling thread: the lowest latency, but it
     * blocks the event loop for the duration of the search (typically
     * 20–200 µs). Throws the same errors `search` rejects with.
     */
    searchSync(query: Float32Array | number[], options?: SearchOptions): SearchResult
    /**
     * Many searches in parallel on all cores. `queries` is an array of
     * vectors or one flat `Float32Array` of `n * dimensions` numbers.
     * Rejects on the first bad query.
     */
    searchBatch(queries: Array<Float32Array | number[]> | Float32Array, options?: SearchOptions): Promise<SearchResult[]>
  }
}

// ---------------------------------------------------------------- GNN layers

/**
 * Node features: a `Float32Array` of `numNodes × inputDim` values (row
 * major), or a matrix `{ data, rows, cols }` such as `db.vectors()` or a
 * layer's output. Read in place, never copied; do not modify it while an
 * async call runs.
 */
export type Features = Float32Array | Matrix

/**
 * Who aggregates whom: a `Graph` (from `db.graph()` or `new Graph(...)`;
 * what layers derive from it is cached across calls, so prefer it for
 * repeated calls), CSR arrays `{ offsets, targets }`, or one neighbour
 * list per node. Node `i` aggregates the nodes listed for it.
 */
export type GraphInput = Graph | CsrGraph | number[][]

/** Options every layer takes. */
export interface LayerOptions {
  /** Width of the input features. */
  inputDim: number
  /** Width of the output. */
  outputDim: number
  /**
   * `'none' | 'relu' | 'leaky_relu' | 'elu' | 'gelu' | 'tanh'`.
   */
  activation?: 'none' | 'linear' | 'relu' | 'leaky_relu' | 'leakyRelu' | 'elu' | 'gelu' | 'tanh'
  /** Add the layer's input to its output (needs `inputDim === outputDim`). */
  residual?: boolean
  /** Layer normalisation of each node's output. */
  layerNorm?: boolean
  /**
   * Dropout rate on the output during training (Rust `GnnStack::forward_train`);
   * forward passes from JS are inference and never drop.
   */
  dropout?: number
  /** Seeds the initial weights and neighbour sampling (random when omitted). */
  seed?: number
}

/** Methods every layer has. */
declare abstract class GnnLayer {
  readonly inputDim: number
  readonly outputDim: number
  /** The configuration stored beside the weights. */
  readonly config: Record<string, unknown>
  /**
   * A copy of every parameter by name: `'0.weight'` is layer 0's
   * `inputDim × outputDim` weight (`x · W`), `'0.bias'` its bias (one-row
   * matrices for vectors); GAT adds `attention_source` and
   * `attention_destination` (`heads × headDim`), GraphSAGE
   * `neighbor_weight` and, for LSTM, `lstm_input_weight`, `lstm_bias`,
   * `lstm_hidden_weight` (gates ordered input, forget, cell, output).
   */
  weights(): Record<string, Matrix>
  /** Whether weights are read in place from a memory-mapped file (`loadWeights` of an f32 file). */
  readonly weightsMapped: boolean
  /**
   * The layer's output for every node, computed off the JS thread (in
   * parallel over nodes). Rejects with `ERR_DIMENSION_MISMATCH` when the
   * features do not match `inputDim` or the graph's node count, and
   * `ERR_INVALID_GRAPH` for out-of-range neighbour ids.
   *
   * @example
   * const out = await layer.forward(db.vectors(), db.graph())
   */
  forward(features: Features, graph: GraphInput): Promise<Matrix>
  /** Like `forward`, on the calling thread. */
  forwardSync(features: Features, graph: GraphInput): Matrix
  /**
   * Writes the configuration and weights to `path` atomically: `f32`
   * (exact), `f16` (half the size) or `int8` (a quarter, one scale per row).
   */
  saveWeights(path: string, options?: SaveWeightsOptions): Promise<void>
  saveWeightsSync(path: string, options?: SaveWeightsOptions): void
  /**
   * Replaces the weights with those saved at `path`. `f32` weights are
   * memory-mapped and used in place (outputs bit-identical to the saved
   * layer's); `f16`/`int8` ones are decoded. Rejects with
   * `ERR_INVALID_ARGUMENT` for another kind of layer,
   * `ERR_DIMENSION_MISMATCH` for other widths, `ERR_CORRUPT_FILE` or
   * `ERR_UNSUPPORTED_FORMAT` for a damaged or foreign file.
   */
  loadWeights(path: string): Promise<void>
  loadWeightsSync(path: string): void
}

export interface GCNLayerOptions extends LayerOptions {
  /** Aggregate over `A + I` (default `true`), as Kipf & Welling. */
  selfLoops?: boolean
}

/**
 * Graph convolution (Kipf & Welling): `σ(D^-½ (A + I) D^-½ X W + b)`.
 * Default activation `relu`.
 *
 * @example
 * const gcn = new GCNLayer({ inputDim: 128, outputDim: 64, activation: 'relu' })
 * const { data, rows, cols } = await gcn.forward(db.vectors(), db.graph())
 */
export declare class GCNLayer extends GnnLayer {
  constructor(options: GCNLayerOptions)
}

export interface GATLayerOptions extends LayerOptions {
  /** Attention heads (default 1). */
  numHeads?: number
  /**
   * Concatenate the heads (default; `outputDim` is split evenly between
   * them) or average them (each head is `outputDim` wide).
   */
  concatHeads?: boolean
  /** Slope of the LeakyReLU on attention scores (default 0.2). */
  leakyReluSlope?: number
  /** Attend over `A + I` (default `true`). */
  selfLoops?: boolean
}

/**
 * Multi-head graph attention (Veličković et al.). Default activation `none`.
 *
 * @example
 * const gat = new GATLayer({ inputDim: 128, outputDim: 64, numHeads: 8 })
 * const { output, attention, heads, graph } = await gat.forwardWithAttention(features, adjacency)
 */
export declare class GATLayer extends GnnLayer {
  constructor(options: GATLayerOptions)
  /**
   * `forward` plus the attention weights: `attention[e * heads + h]` is
   * edge `e`'s weight in head `h`, for the edges of `graph` (the input with
   * self loops added); each node's weights sum to 1 per head.
   */
  forwardWithAttention(features: Features, graph: GraphInput): Promise<AttentionOutput>
  forwardWithAttentionSync(features: Features, graph: GraphInput): AttentionOutput
}

export interface GraphSAGEOptions extends LayerOptions {
  /** Layers (default 2). */
  numLayers?: number
  /** Width between layers (default `inputDim`). */
  hiddenDim?: number
  /** How neighbours are summarised (default `'mean'`). */
  aggregator?: 'mean' | 'max' | 'sum' | 'lstm'
  /**
   * Neighbours sampled per hop from the target nodes outwards, one entry
   * per layer: `[10, 5]` takes 10 neighbours of each target and 5 of each
   * of those (as PyG's `NeighborLoader`). Omit to use every neighbour.
   * Sampling is seeded, so repeated calls agree.
   */
  sampleSizes?: number[]
  /** Scale every layer's output rows to unit length. */
  normalize?: boolean
}

/**
 * GraphSAGE (Hamilton et al.): each layer is
 * `σ(x W_self + agg(neighbours) W_neigh + b)`; `activation` (default
 * `relu`) applies between layers, not after the last.
 *
 * @example
 * const sage = new GraphSAGE({ inputDim: 128, outputDim: 64, numLayers: 2, sampleSizes: [10, 5] })
 * const rows = await sage.forwardMinibatch(db.vectors(), db.graph(), [0, 42])
 */
export declare class GraphSAGE extends GnnLayer {
  constructor(options: GraphSAGEOptions)
  /**
   * The output rows of `batch` nodes only (in that order), computing just
   * their sampled receptive field: equal to those rows of `forward`.
   * Rejects with `ERR_INVALID_GRAPH` for a node id out of range.
   */
  forwardMinibatch(features: Features, graph: GraphInput, batch: Uint32Array | number[]): Promise<Matrix>
  forwardMinibatchSync(features: Features, graph: GraphInput, batch: Uint32Array | number[]): Matrix
}
