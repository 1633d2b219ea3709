// Public types of hnsw-gnn: exactly what `require('hnsw-gnn')` exports
// (a test compares the two, member by member), with every option's
// default and unit. The native classes behind them are not part of the API.

// ------------------------------------------------------------------ errors --

/**
 * The stable `code` of every error hnsw-gnn throws or rejects with (one per
 * variant of the Rust core's `Error`; a test keeps the two in step).
 */
export type ErrorCode =
  /** A vector's length differs from `dimensions`; GNN features or weights of the wrong shape. */
  | 'ERR_DIMENSION_MISMATCH'
  /** Empty vector, NaN or ±Infinity, a zero vector under cosine; a NaN or infinite GNN feature. */
  | 'ERR_INVALID_VECTOR'
  /** An option or argument out of range or of the wrong type, or an unknown option key. */
  | 'ERR_INVALID_ARGUMENT'
  /** A malformed metadata filter. */
  | 'ERR_INVALID_FILTER'
  /** A GNN graph with neighbour or batch ids out of range, or inconsistent CSR offsets. */
  | 'ERR_INVALID_GRAPH'
  /** `update` of an unknown id. */
  | 'ERR_NOT_FOUND'
  /** `insert`/`insertBatch` of an existing id (or the same id twice in a batch). */
  | 'ERR_DUPLICATE_ID'
  /** `new VectorDB({ path })` where a database file already exists (open it with `VectorDB.open`). */
  | 'ERR_ALREADY_EXISTS'
  /** A database, model or log file fails its checks; the message names the section. */
  | 'ERR_CORRUPT_FILE'
  /** Not an hnsw-gnn file, or written by a newer hnsw-gnn than this one can read or change. */
  | 'ERR_UNSUPPORTED_FORMAT'
  /** A file cannot be read or written (missing, disk full, permission denied). */
  | 'ERR_IO'
  /** Another `VectorDB` has the file open for writing. */
  | 'ERR_LOCKED'
  /** A call after `close()`. */
  | 'ERR_CLOSED'
  /** A write to a database opened with `readOnly: true`. */
  | 'ERR_READ_ONLY'
  /** `insertBatch`, `save`, `train` or `snapshot` stopped by its `signal` (an `AbortSignal`); the database is as it was before the call. */
  | 'ERR_ABORTED'
  /** `require('hnsw-gnn')` found no binary for this platform; the message names the package it looked for and what to do. */
  | 'ERR_NATIVE_BINARY_MISSING'
  /** A candidate source's engine failed (`hnsw-gnn/pgvector`, `hnsw-gnn/lancedb`: a missing table or column, a closed pool); `cause` holds its error. */
  | 'ERR_SOURCE'
  /** A bug: a caught Rust panic (it never crashes Node). */
  | 'ERR_INTERNAL'

/** What every hnsw-gnn error is: an `Error` with a stable `code`. */
export interface HnswGnnError extends Error {
  code: ErrorCode
}

// ------------------------------------------------------------- the module --

/** The limits every call is held to (from the Rust core). */
export interface Limits {
  /** Largest `k` of a search. */
  maxK: number
  /** Largest `efSearch`. */
  maxEfSearch: number
  /** Longest vector. */
  maxDimensions: number
  /** Longest id, in UTF-8 bytes. */
  maxIdBytes: number
  /** Deepest metadata: the metadata object is level 1, each object or array inside it one more. */
  maxMetadataDepth: number
  /** Largest `recentSearches`. */
  maxRecentSearches: number
  /** Range of `m`. */
  minM: number
  maxM: number
  /** Largest `efConstruction`. */
  maxEfConstruction: number
  /** Most layers of a `GraphSAGE` model. */
  maxGnnLayers: number
  /** Most attention heads of a `GATLayer`. */
  maxGnnHeads: number
  /** Widest GNN layer input or output. */
  maxGnnWidth: number
}

/** The limits every call is held to (frozen). */
export declare const limits: Readonly<Limits>

/** Which SIMD kernels this process uses, and which the CPU supports. */
export interface SimdInfo {
  /**
   * The active path: `'avx512'`, `'avx2'`, `'neon'` or `'scalar'`
   * (`HNSW_GNN_SIMD` can force one).
   */
  active: string
  /** Every path this CPU can run. */
  available: string[]
}

/** Reports the distance kernels in use. */
export declare function simdInfo(): SimdInfo

// -------------------------------------------------------------- VectorDB --

/** How distance is measured; see the README's score table. */
export type Metric = 'cosine' | 'euclidean' | 'dot'

/**
 * When a write's Promise resolves (for a database with a `path`):
 * - `'batch'` (default): once its log record is fsynced; fsyncs are shared
 *   by concurrent writes and happen at most every 10 ms.
 * - `'fsync'`: once its record is fsynced, without waiting to batch.
 * - `'none'`: at once, with no fsync: for bulk loads. A crash (of the
 *   process or the machine) can lose every write since the last `save()`;
 *   `close()` keeps them.
 */
export type Durability = 'batch' | 'fsync' | 'none'

/** Options of `new VectorDB(...)`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface VectorDbOptions {
  /** Length of every vector (1 to `limits.maxDimensions`, 65536). Required. */
  dimensions: number
  /**
   * `'cosine'` (default), `'euclidean'` (squared L2) or `'dot'`. Cosine
   * vectors are normalised to unit length on insert, so cosine search runs
   * as a dot product.
   */
  metric?: Metric
  /**
   * Links per node (default 16, 2 to 256; level 0 keeps up to `2 * m`).
   * More links: better recall, more memory, slower inserts.
   */
  m?: number
  /** Beam width while inserting (default 200, at most 10000). */
  efConstruction?: number
  /**
   * Default beam width while searching (default 64, at most 100000); per
   * query via `search(q, { efSearch })`.
   */
  efSearch?: number
  /**
   * How many recent searches are remembered so feedback can refer to them
   * by `searchId` (default 10000).
   */
  recentSearches?: number
  /**
   * Creates a new database file here (`ERR_ALREADY_EXISTS` if there is one:
   * open an existing file with `VectorDB.open`, which reads it off the JS
   * thread). Every change is then logged to `<path>-wal` before it is
   * acknowledged, and `save()` folds the log into the file. Without a path
   * the database lives in memory only.
   */
  path?: string
  /** When writes are acknowledged (default `'batch'`); only with a `path`. */
  durability?: Durability
  /** Automatic checkpoints (on by default); only with a `path`. See {@link CheckpointOptions}. */
  checkpoint?: boolean | CheckpointOptions
  /**
   * Learning from feedback (on by default; see README "How learning
   * works"). `false` turns it off: no feedback log, no trainer, search is
   * base search and `feedback` rejects with `ERR_INVALID_ARGUMENT`.
   */
  learning?: boolean | LearningOptions
}

/**
 * How a database learns from feedback. Every key is optional; unknown keys
 * are an `ERR_INVALID_ARGUMENT`. The settings are saved with the file; the
 * ones given to `VectorDB.open` override them.
 */
export interface LearningOptions {
  /** Sessions the feedback log keeps, newest first (default 10000). */
  bufferSessions?: number
  /** A session's weight halves every this many newer sessions (default 5000). */
  halfLifeSessions?: number
  /** ...and, if set, every this many milliseconds of age (default: off). */
  halfLifeMs?: number
  /** A conversion counts this many clicks (default 3, from 1 to 1000). */
  conversionWeight?: number
  /**
   * Feedback older than this many milliseconds is dropped (the log holds
   * query vectors). Default: off, kept until the ring overwrites it.
   */
  retentionMs?: number
  /** The background trainer retrains after this many new sessions (default 200)... */
  trainEverySessions?: number
  /** ...or after this many milliseconds when any session arrived (default 30000). */
  trainEveryMs?: number
  /** No model is trained from fewer sessions than this (default 50). */
  minSessions?: number
  /**
   * Threads the background trainer uses (default 1). They run at the lowest
   * CPU priority the OS offers (`SCHED_IDLE` on Linux, else nice 19), so
   * training only takes CPU time searches and writes leave idle.
   */
  threads?: number
  /** Candidates a model scores per search, at least `k` (default 100). */
  rerankDepth?: number
  /**
   * Share of searches served as a team-draft interleaving of the base and
   * the learned ranking (default 0.1; 0 to 1). Their clicks decide whether
   * the serving model stays: one that loses is rolled back. Which searches
   * are interleaved follows from the search id. Use 0 for evaluations.
   */
  explore?: number
  /** Whether a background thread trains (default true); `false` trains only on `train()`. */
  background?: boolean
  /** The trainer's hyperparameters (advanced; the defaults were chosen on the benchmark's validation slice). */
  model?: LearningModelOptions
}

/** The trainer's hyperparameters. */
export interface LearningModelOptions {
  /** Passes over the training pairs (default 6). */
  epochs?: number
  /** Step size of the pairwise training (default 0.1). */
  learningRate?: number
  /** L2 pull of every encoding toward "no change" (default 0.02). */
  shrinkage?: number
  /** Largest position-bias exponent η (propensity of rank r is r^-η, η fitted to the log; default 1). */
  propensityExponent?: number
  /** Weight of the neighbours' mean per hop of message passing, for the trained encodings and the metric encoder (default 0.5; 0 turns message passing off). */
  messageWeight?: number
  /** Hops of message passing over the item graph (0, 1 or 2; default 2). */
  hops?: number
  /** Past queries the memory consults per search (default 30). */
  memoryNeighbours?: number
  /** Exponent on a past query's similarity in the memory (default 8). */
  similarityPower?: number
  /** One-sided z the guardrail's held-back test must reach (default 2.33). */
  minZ?: number
  /** Cap on the trained encodings' weight, in units of the base score's spread within a list (default 1). */
  encodingWeight?: number
  /** Cap on the past-query memory's weight, in the same units (default 1). */
  memoryWeight?: number
  /** Cap on the learned metric's weight (its cosine is added to the base score; default 1). */
  metricWeight?: number
  /** Most directions of the learned metric `T` (default 64; 0 turns the metric off). */
  metricRank?: number
  /** HNSW neighbours averaged into an item's metric encoding (default 10; 0 is the identity encoder). */
  metricNeighbours?: number
  /** Louvain resolution of the co-click communities the metric separates (default 1). */
  resolution?: number
  /**
   * Precision of the item rows message passing reads (default 'f32'). 'f16' gathers half the bytes; each
   * aggregated value stays within 2⁻¹¹ of the sum of its terms' magnitudes (benchmark/results/learning.md
   * reports its held-out nDCG beside f32's).
   */
  messagePrecision?: 'f32' | 'f16'
}

/**
 * Feedback for a search: by `searchId` for searches this database served
 * (what was shown comes from its recent-search table), or by `query` and
 * `shown` ids for searches served elsewhere. Repeated feedback for one
 * search merges. Unknown keys are an `ERR_INVALID_ARGUMENT`.
 */
export type Feedback =
  | {
      /** From `search`; `ERR_NOT_FOUND` if unknown or older than the last `recentSearches` searches. */
      searchId: string
      /** Ids the user clicked; each must have been shown (`ERR_INVALID_ARGUMENT` otherwise). */
      clicked?: string[]
      /** Ids that converted (bought, kept, ...); a conversion counts as a click too. */
      converted?: string[]
    }
  | {
      /** The query vector of a search served elsewhere. */
      query: Float32Array | number[]
      /** The ids shown for it, best first (1 to `limits.maxK`, no repeats). */
      shown: string[]
      clicked?: string[]
      converted?: string[]
    }

/** What `train()` resolves to. */
export interface TrainingReport {
  /** Sessions in the snapshot trained on, and how many of them were held back to validate. */
  sessions: number
  heldBack: number
  /** Clicked-versus-skipped pairs trained on. */
  pairs: number
  /** Mean pairwise loss of the last epoch. */
  loss: number
  /** Held-back test: how far the learned part's per-session AUC (clicked vs shown-and-not-clicked) is above 0.5, and its z. */
  validationGain: number
  validationZ: number
  /** Whether the model was published (a first model serves after two passing passes in a row); if not and none serves, search is base search. */
  published: boolean
  /** The largest of the published model's three blend weights (encodings, memory, metric; `learningStats()` has each); 0 when not published. */
  blend: number
}

/** What `learningStats()` reports. */
export interface LearningStats {
  /** Whether learning is on for this database. */
  enabled: boolean
  /** Sessions in the feedback log. */
  sessions: number
  /** Sessions logged since the last training pass. */
  sessionsSinceTraining: number
  /** Version of the serving model; 0 when none serves. */
  modelVersion: number
  /** Whether a model reranks searches now. */
  active: boolean
  /** Blend weight of the trained item encodings (λ_enc; 0 when none serves). */
  blendWeight: number
  /** Blend weight of the similar-past-query memory (λ_mem). */
  memoryWeight: number
  /** Blend weight of the learned metric's cos(T q, h_i) (λ_T), and the metric's rank (0: none). */
  metricWeight: number
  metricRank: number
  /** Items and past queries the serving model knows. */
  modelItems: number
  modelQueries: number
  /** Training passes run, models published, and models rolled back by interleaving. */
  trainings: number
  published: number
  rollbacks: number
  /** When the last pass finished (ms since the epoch) and how long it took (ms); `null` before the first. */
  lastTrainedAt: number | null
  lastTrainingMs: number | null
  /** The last pass's loss, held-back gain and its z; `null` before the first. */
  loss: number | null
  validationGain: number | null
  validationZ: number | null
  /** Interleaved searches of the serving model whose clicks favoured it (wins), base (losses), or neither (ties). */
  interleaving: { wins: number; losses: number; ties: number }
  /** Heap bytes of the feedback log and the serving model. */
  heapBytes: number
}

/**
 * When a background thread folds the write-ahead log into the database file,
 * so the log of a long-running service stays bounded without anyone calling
 * `save()`. A checkpoint is as safe as a `save()`: a crash during one loses
 * no acknowledged write. Searches never wait for it, and unlike `save()` it
 * lets writes go on while it writes the file: they wait only for its start
 * and its end (appending the records logged meanwhile, a small sync and the
 * rename). It does not compact; when more than a tenth of the slots are
 * deleted items it runs a full `save()` instead, which does (and holds
 * writes for its length). `checkpoint: false` turns them off. Not on the
 * WebAssembly build, whose log grows until `save()`.
 */
export interface CheckpointOptions {
  /**
   * Log bytes that trigger a checkpoint. Default: the larger of 64 MiB and
   * a quarter of the file, so a bulk load does not rewrite a growing file
   * over and over.
   */
  bytes?: number
  /** A log whose oldest record is this old (ms) is folded in. Default 600000 (10 minutes). */
  ageMs?: number
}

/** Options of `VectorDB.open`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface OpenDbOptions {
  /** When writes are acknowledged (default `'batch'`). */
  durability?: Durability
  /** Automatic checkpoints of a writer (on by default). See {@link CheckpointOptions}. */
  checkpoint?: boolean | CheckpointOptions
  /**
   * Open without taking the writer's lock, so another process may be
   * writing: searches and reads only (writes reject with `ERR_READ_ONLY`).
   * Sees the file as last saved plus the writer's log at the moment of
   * opening, until `refresh()` catches up with the writer.
   */
  readOnly?: boolean
  /** As in the constructor (default 10000). */
  recentSearches?: number
  /** Overrides the learning settings saved in the file (absent keeps them). */
  learning?: boolean | LearningOptions
}

/** An item as passed to `insert`, `insertBatch` and `upsert`. */
export interface ItemInput {
  /** A unique id (at most `limits.maxIdBytes` UTF-8 bytes, no lone UTF-16 surrogates); a UUID v4 is generated when omitted. */
  id?: string
  /** `dimensions` finite numbers; a `Float32Array` is read without a copy. */
  vector: Float32Array | number[]
  /**
   * A plain object; filters match against it. Stored exactly as
   * `JSON.stringify` makes it: a `Date` (or anything with `toJSON`) as what
   * `toJSON` returns, `undefined` fields dropped. `BigInt`, functions,
   * symbols, `NaN`/±`Infinity`, `Map`/`Set`/typed arrays, lone surrogates,
   * cycles and nesting deeper than `limits.maxMetadataDepth` are refused
   * (`ERR_INVALID_ARGUMENT`): JSON would change them without a word.
   */
  metadata?: Record<string, unknown> | null
}

/**
 * Many items in columns, for `insertBatch`: `n` vectors laid end to end.
 * `vectors.length` must be a multiple of `dimensions`
 * (`ERR_DIMENSION_MISMATCH`), and `ids` and `metadata`, when given, must
 * have `n` entries (`ERR_INVALID_ARGUMENT`).
 */
export interface FlatItems {
  /** Per item, a unique id; UUIDs v4 are generated when omitted. */
  ids?: string[]
  /** `n × dimensions` finite numbers. */
  vectors: Float32Array
  /** Per item, a plain object (stored as {@link ItemInput.metadata} says) or `null`. */
  metadata?: Array<Record<string, unknown> | null>
}

/** Changes for `update`. */
export interface ItemUpdate {
  /** A new vector. */
  vector?: Float32Array | number[]
  /** New metadata (stored as {@link ItemInput.metadata} says); `null` clears it, omitted keeps it. */
  metadata?: Record<string, unknown> | null
}

/** A stored item as `get` returns it. */
export interface StoredItem {
  id: string
  /** The stored vector (unit length under the cosine metric). */
  vector: Float32Array
  metadata: Record<string, unknown> | null
}

/** Options of `insertBatch`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface InsertBatchOptions {
  /**
   * Called with the number of items linked so far, every 1% of the batch
   * (at least every 256 items) and once at the end with `done === total`.
   * Counts only increase. Calls come from worker threads through the event
   * loop, so the last one may arrive just after the promise resolves.
   */
  onProgress?: (done: number, total: number) => void
  /**
   * Cancels the insert: the items are taken out again (durably) and the
   * call rejects with `ERR_ABORTED`, its `cause` the signal's reason.
   */
  signal?: AbortSignalLike
}

/**
 * An `AbortSignal` (declared by shape, so no DOM or Node type library is
 * needed): `AbortController().signal` and `AbortSignal.timeout(ms)` fit.
 */
export interface AbortSignalLike {
  readonly aborted: boolean
  readonly reason?: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/**
 * Options of the long operations `save`, `train` and `snapshot`. A `signal`
 * that aborts makes the call reject with `ERR_ABORTED` (its `cause` the
 * signal's reason) and leaves the database as it was before the call; one
 * already aborted rejects at once. `snapshot` changes nothing, so it also
 * rejects when the signal aborts after the work finished but before the
 * result was delivered; a `save` or `train` that finished reports what it
 * did. Unknown keys are an `ERR_INVALID_ARGUMENT`.
 */
export interface AbortOptions {
  signal?: AbortSignalLike
}

/**
 * A metadata filter, Pinecone/MongoDB style: `{ color: 'red', price: {
 * $lt: 20 } }`. Operators: `$eq $ne $gt $gte $lt $lte $in $nin $and $or`;
 * a bare value means `$eq`; dotted names reach into nested objects. A
 * `Date` operand is its ISO 8601 text, as a stored `Date` is. An invalid
 * filter (unknown operator, wrong operand type, `$and`/`$or` nested deeper
 * than 32 levels, a value JSON cannot hold) is an `ERR_INVALID_FILTER`,
 * never ignored.
 */
export type Filter = Record<string, unknown>

/** Options of `search`, `searchSync` and `searchBatch`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface SearchOptions {
  /** How many hits to return (default 10, at most `limits.maxK`, 100000). */
  k?: number
  /**
   * Beam width for this query (default: the database's `efSearch`). Larger
   * is slower and more accurate; it is raised to `k` if smaller.
   */
  efSearch?: number
  /** Only items whose metadata passes the filter; applied during the graph walk. */
  filter?: Filter
  /**
   * Let the learned model rank the hits when one serves (default true);
   * `false` gives base search.
   */
  rerank?: boolean
}

/** One search hit. */
export interface SearchHit {
  /** The item's id. */
  id: string
  /**
   * What orders the list, higher first. Without a serving model it equals
   * `baseScore`. With one, it is the learned score (`baseScore` plus what
   * feedback taught), comparable only within one result list; in an
   * interleaved search (see `LearningOptions.explore`) the order is the
   * interleaving's.
   */
  score: number
  /**
   * Higher is closer: the cosine similarity (`cosine`), the dot product
   * (`dot`), or the negated squared euclidean distance (`euclidean`).
   */
  baseScore: number
  /** The metric's distance, unchanged by learning. Lower is closer: `1 - cosine similarity`, `-dot`, or the squared euclidean distance. */
  distance: number
  /** The item's metadata, or `null` when it has none. */
  metadata: Record<string, unknown> | null
}

/** What a search returns. */
export interface SearchResult {
  /** Names this search for later feedback; unique per search. */
  searchId: string
  /** At most `k` hits, best first (by `score`). */
  hits: SearchHit[]
}

/** How database files are brought into memory: see `DatabaseStats.fileMapping`. */
export type FileMapping = 'mmap' | 'read'

/** What keeps a second writer out of a database file: see `DatabaseStats.fileLock`. */
export type FileLock = 'flock' | 'none'

/** How the write-ahead log is held: see `DatabaseStats.walHandle`. */
export type WalHandle = 'held' | 'reopened'

/** What `stats()` reports. */
export interface DatabaseStats {
  /** Live items. */
  items: number
  /** Stored slots: live items plus deleted and replaced ones kept as graph tombstones until `compact()` or `save()` reclaims them. */
  slots: number
  /** The database file, or `null` for an in-memory database. */
  path: string | null
  /** Size of the file as last saved, in bytes. */
  fileBytes: number
  /** Size of the write-ahead log (changes since the last save), in bytes. */
  walBytes: number
  /** Vector bytes read in place from the memory-mapped file (not copied to the heap); 0 where `fileMapping` is `'read'`. */
  mappedVectorBytes: number
  /** Vector bytes held in memory (inserted since the last save, and with `fileMapping: 'read'` those read from the file) plus the graph's links. */
  indexHeapBytes: number
  /** Heap bytes of the id catalogue (each id string, the id ↔ slot tables) and the metadata. */
  catalogHeapBytes: number
  /** Heap bytes of the recent-search table that feedback names searches by. */
  recentSearchesHeapBytes: number
  /** Heap bytes of the feedback log and the serving model (as `learningStats().heapBytes`). */
  learningHeapBytes: number
  /** Every heap byte the database holds: the four above, as requested from the allocator (its rounding and per-block headers aside). */
  heapBytes: number
  /** Whether vectors are served from the mapped file (never where `fileMapping` is `'read'`). */
  vectorsMapped: boolean
  /**
   * How this build brings database files into memory. `'mmap'` (native
   * builds): the file is memory-mapped and vectors are read in place, paged
   * in by the OS on demand. `'read'` (the WebAssembly/WASI build, which has
   * no mmap): the whole file is read into memory on open and after each
   * save, so opening costs the file's size in memory.
   */
  fileMapping: FileMapping
  /**
   * What keeps a second writer off this database's file, or `null` without a
   * writable file (in memory, or `readOnly`). `'flock'`: an exclusive
   * advisory lock on the write-ahead log, so another writer gets
   * `ERR_LOCKED`. `'none'` (the WebAssembly/WASI build, which has no file
   * locks): nothing stops a second writer, and two writers corrupt the file;
   * keeping to one writer per file is then the application's job.
   */
  fileLock: FileLock | null
  /**
   * How the write-ahead log is held, or `null` without one (in memory, or
   * `readOnly`). `'held'`: open for as long as the database is. `'reopened'`
   * (the WebAssembly/WASI build: under Node each thread has its own WASI
   * file-descriptor table, so a descriptor cannot pass between threads):
   * opened by path for every flush, costing an open and a close each time;
   * what is written and fsynced is the same.
   */
  walHandle: WalHandle | null
  /** The write acknowledgement mode, or `null` without a writable file. */
  durability: Durability | null
  readOnly: boolean
  /** Number of saves since the file was created. */
  generation: number
  /** Automatic checkpoints done since the database was opened (see {@link CheckpointOptions}). */
  checkpoints: number
  /** Why the last automatic checkpoint failed (`'ERR_IO: ...'`), until one succeeds; retried after 5 s. */
  lastCheckpointError: string | null
}

/** The live items as a graph, from `snapshot()`: row `i` is item `ids[i]`. */
export interface Snapshot {
  /** Level-0 HNSW links among the live items, by row. */
  graph: Graph
  /** The items' stored vectors, one row each (unit length under cosine). */
  features: Matrix
  /** The item of each row. */
  ids: string[]
}

/**
 * An embedded vector database: an HNSW index with string ids, metadata and
 * filters. Methods returning a Promise run off the JS thread (batch work
 * spreads over all cores); the `Sync` variants run on the calling thread.
 * Every error is an {@link HnswGnnError}; async methods reject, sync ones
 * throw, and a failed call changes nothing.
 *
 * @example
 * const db = new VectorDB({ dimensions: 384 })
 * await db.insert({ id: 'sku-1', vector, metadata: { color: 'red' } })
 * const { searchId, hits } = await db.search(query, { k: 10, filter: { color: 'red' } })
 */
export declare class VectorDB {
  /**
   * In memory, or a new database file at `options.path`. Throws
   * `ERR_ALREADY_EXISTS` if that file exists: open it with
   * {@link VectorDB.open}.
   */
  constructor(options: VectorDbOptions)
  /**
   * Opens an existing database file off the JS thread: validates it (every
   * section's checksum), memory-maps its vectors instead of reading them
   * into the heap, and replays its write-ahead log. Rejects with `ERR_IO`
   * (missing or unreadable), `ERR_CORRUPT_FILE`, `ERR_UNSUPPORTED_FORMAT`
   * (written by a newer hnsw-gnn) or `ERR_LOCKED` (another `VectorDB` is
   * writing it; pass `readOnly: true` to read alongside it).
   *
   * @example
   * const db = await VectorDB.open('shop.hgnn')
   */
  static open(path: string, options?: OpenDbOptions): Promise<VectorDB>
  /** Number of live items. */
  readonly size: number
  readonly dimensions: number
  readonly metric: Metric
  /**
   * Inserts one item and resolves to its id. Rejects with
   * `ERR_DUPLICATE_ID` if the id exists (use `upsert` to replace).
   */
  insert(item: ItemInput): Promise<string>
  /**
   * Inserts many items, linking them in parallel on all cores; resolves to
   * their ids in order. All or nothing: one bad vector or duplicate id
   * rejects the batch before anything is stored.
   *
   * Items are given either as objects, or in the flat form
   * {@link FlatItems} — one `Float32Array` of all vectors — which is the
   * leanest way to load many: the vectors are copied once, on the calling
   * thread, into the allocation the index then keeps (either form holds
   * each vector once after the call; the object form also costs the
   * objects).
   *
   * @example
   * await db.insertBatch({ ids: ['a', 'b'], vectors: new Float32Array(2 * db.dimensions) .fill(0.5) })
   */
  insertBatch(items: ItemInput[] | FlatItems, options?: InsertBatchOptions | null): Promise<string[]>
  /** Inserts the item or replaces the vector and metadata of the item with that id; resolves to the id. */
  upsert(item: ItemInput): Promise<string>
  /** Changes an existing item's vector and/or metadata. Rejects with `ERR_NOT_FOUND` for an unknown id. */
  update(id: string, changes: ItemUpdate): Promise<void>
  /** Resolves to the stored item, or `null` if there is none. */
  get(id: string): Promise<StoredItem | null>
  /** The stored item, or `null` if there is none. */
  getSync(id: string): StoredItem | null
  /** Deletes an item; resolves to `false` if the id was unknown. A deleted item is never returned by a search. */
  delete(id: string): Promise<boolean>
  /**
   * The `k` nearest items to `query`, computed off the JS thread. Rejects
   * with `ERR_DIMENSION_MISMATCH`, `ERR_INVALID_VECTOR`,
   * `ERR_INVALID_ARGUMENT` or `ERR_INVALID_FILTER` on bad input.
   */
  search(query: Float32Array | number[], options?: SearchOptions): Promise<SearchResult>
  /**
   * Like `search`, on the calling thread: the lowest latency, but it blocks
   * the event loop for the search (typically 20–200 µs).
   */
  searchSync(query: Float32Array | number[], options?: SearchOptions): SearchResult
  /**
   * Many searches in parallel on all cores. `queries` is an array of
   * vectors or one flat `Float32Array` of `n * dimensions` numbers. Rejects
   * on the first bad query.
   */
  searchBatch(queries: Array<Float32Array | number[]> | Float32Array, options?: SearchOptions): Promise<SearchResult[]>
  /**
   * The live items as a graph for the GNN layers, in one consistent read
   * taken off the JS thread (writes wait while it is taken): their ids, their
   * vectors as features, and their level-0 HNSW links, rows in an order that
   * keeps linked items near each other in memory. The order is kept until
   * the next write, so repeated snapshots agree row for row.
   *
   * @example
   * const { graph, features, ids } = await db.snapshot()
   * const out = await new GCNLayer({ inputDim: db.dimensions, outputDim: 64 }).forward(features, graph)
   */
  snapshot(options?: AbortOptions): Promise<Snapshot>
  /**
   * Logs what the user did with a search's results and resolves once the
   * session is durable (like a write). Returns at once: training happens
   * on the background trainer. Rejects with `ERR_NOT_FOUND` (unknown or
   * expired `searchId`), `ERR_INVALID_ARGUMENT` (an id that was not shown,
   * a malformed object, learning off), `ERR_DIMENSION_MISMATCH` or
   * `ERR_INVALID_VECTOR` (a bad `query`), `ERR_READ_ONLY`, `ERR_CLOSED`; a
   * rejected call logs nothing.
   *
   * @example
   * const { searchId, hits } = await db.search(query)
   * await db.feedback({ searchId, clicked: [hits[2].id], converted: [hits[2].id] })
   */
  feedback(feedback: Feedback): Promise<void>
  /**
   * Runs one training pass now, off the JS thread, and resolves once its
   * model is published or rejected by the guardrail (the learned part must
   * tell held-back sessions' clicks from their skips; a model first serves
   * after two passes in a row pass).
   */
  train(options?: AbortOptions): Promise<TrainingReport>
  /** The feedback log, the serving model and how it fares. */
  learningStats(): LearningStats
  /** Forgets the feedback log and the model; search is base search again. Durable like a write (in the write-ahead log when it resolves). */
  resetLearning(): Promise<void>
  /**
   * A reader's feedback for the writer. A database opened `readOnly` takes
   * `feedback` (for its own searches, or given with `query` and `shown`)
   * and keeps it until this takes it all as one batch (about 1.6 KB per
   * session at 384 dimensions): send it to the process that writes —
   * an IPC message, a queue — whose `importFeedback` logs it. A batch
   * carries each interleaved search's outcome (wins are pooled across
   * processes) and the vectors of shown items a `Reranker` reader did not
   * hold. A reader keeps up to 100,000 sessions; older ones are dropped.
   * On a writable database there is nothing to export (an empty batch).
   *
   * @example
   * // primary: cluster.setupPrimary({ serialization: 'advanced' }), so that
   * // the bytes arrive as bytes (the default JSON IPC sends a plain object)
   * // reader (a node:cluster worker)
   * setInterval(() => process.send(reader.exportFeedback()), 1000)
   * // writer (the primary)
   * worker.on('message', (batch) => writer.importFeedback(Buffer.from(batch)))
   */
  exportFeedback(): Uint8Array
  /**
   * Logs a reader's batch from `exportFeedback` as this database's own
   * feedback (durable when it resolves), after storing the items it carries
   * that are not held here. Rejects with `ERR_INVALID_ARGUMENT` for bytes
   * that are not a batch, `ERR_DIMENSION_MISMATCH` for another database's,
   * `ERR_READ_ONLY` on a reader.
   */
  importFeedback(batch: Uint8Array): Promise<{ sessions: number; items: number }>
  /**
   * Drops logged feedback that arrived before `before` (a `Date` or
   * milliseconds since the epoch), or all of it without `before`; resolves
   * to the number of sessions dropped. The log holds query vectors: this
   * is how to honour a retention policy. The serving model, whose memory
   * holds past queries too, is withdrawn (the next training pass retrains
   * on what is left); purging everything also forgets the recent-search
   * table (feedback for those searches then gets `ERR_NOT_FOUND`). Durable
   * like a write: a crash after it resolves does not bring the feedback back.
   */
  purgeFeedback(options?: { before?: Date | number }): Promise<number>
  /** Counts, file and log sizes, and how much of the index is mapped. */
  stats(): DatabaseStats
  /**
   * Writes the whole database to its file atomically (a temp file, fsynced,
   * renamed over the old one) and empties the write-ahead log. Writes wait
   * while it runs; searches do not. Rejects with `ERR_IO` (disk full,
   * permission denied), leaving the previous file intact.
   *
   * Deleted and replaced items leave their slots (vector and links) in
   * place until then: a save reclaims them first (see {@link compact}), so
   * a saved file holds only live items.
   */
  save(options?: AbortOptions): Promise<void>
  /**
   * Reclaims the slots that deleted and replaced items still hold (their
   * vectors and links stay in the graph, routing searches, until then):
   * the live items are renumbered and the lists that pointed at deleted
   * ones are chosen afresh around them, keeping recall. A database with a
   * file does this at every `save()` and checkpoint; call it on a database
   * without a file after many deletes. Writes wait while it runs;
   * searches only for a final swap. Resolves to whether anything was
   * reclaimed (`false` also while a training pass runs: try again later).
   * `stats().slots - stats().items` is what it would reclaim.
   */
  compact(): Promise<boolean>
  /**
   * For a database opened with `readOnly: true`: picks up what the writer
   * (in this or another process) saved and logged since this one was
   * opened or last refreshed, without a new `VectorDB`; resolves to whether
   * anything changed (`stats().generation` says which save it now sees).
   * Cheap when nothing changed (a header read and the log's length);
   * otherwise it reads the file and log afresh, off the JS thread, while
   * searches go on against what it saw before. Rejects with
   * `ERR_INVALID_ARGUMENT` on a writable or in-memory database.
   *
   * @example
   * const reader = await VectorDB.open('shop.hgnn', { readOnly: true })
   * setInterval(() => reader.refresh(), 5000)
   */
  refresh(): Promise<boolean>
  /**
   * A token for `VectorDB.attach`, which a `worker_threads` worker of this
   * process uses to hold this same database: no copy, one writer lock, one
   * learner, searches and writes from every thread. Each holder closes
   * itself (`close()` on one leaves the others working); the last one to
   * close, or to be garbage-collected, closes the database. A handle keeps
   * nothing open by itself. Throws `ERR_CLOSED` after `close()`.
   *
   * @example
   * const worker = new Worker('./search-worker.js', { workerData: { db: db.handle() } })
   * // in the worker: const db = VectorDB.attach(workerData.db)
   */
  handle(): string
  /**
   * Holds the database `handle` names (from `handle()` in this process).
   * Throws `ERR_NOT_FOUND` for a handle that names no open database
   * (another process's, or every holder has closed).
   */
  static attach(handle: string): VectorDB
  /**
   * Waits for writes in progress, flushes the write-ahead log and releases
   * the file and its lock. Unsaved changes stay safe in the log and are
   * replayed by the next open. Later calls reject with `ERR_CLOSED`;
   * closing twice is harmless.
   */
  close(): Promise<void>
}

/** A candidate another engine found for a query, for {@link Reranker.rerank}. */
export interface RerankCandidate {
  id: string
  /**
   * The item's vector: needed the first time the reranker sees the id
   * (see {@link Reranker.missing}); ignored once it holds the item.
   */
  vector?: Float32Array | number[]
  /**
   * The engine's score on this reranker's scale (cosine similarity, dot
   * product, or negated squared euclidean distance); absent, the reranker
   * computes it from the vectors, as its own search would.
   */
  score?: number
  /** Stored with the item the first time it is seen; returned with hits. */
  metadata?: Record<string, unknown>
}

/** Options of {@link Reranker.rerank}. */
export interface RerankOptions {
  /** How many hits at most (default 10). */
  k?: number
  /** `false` ranks by `baseScore` alone, as if no model served (default `true`). */
  rerank?: boolean
  /**
   * Opts in to items the engine did not return: up to half as many as the
   * candidates, from those past similar queries clicked (while a model
   * serves), each added only if this predicate returns `true` for it —
   * the caller's tenant and filter check, since the reranker cannot know
   * the engine's. Without it, only the given candidates come back.
   */
  expand?: (item: { id: string; metadata: Record<string, unknown> | null }) => boolean
}

/** Options of `new Reranker`. */
export interface RerankerOptions extends VectorDbOptions {
  /**
   * Items kept at most (default 1,000,000); beyond it the least recently
   * seen candidates are forgotten (never one a rerank or learned search in
   * progress uses). Items a reader's `importFeedback` batch brings count as
   * just seen. The vector first seen is kept: an item whose vector changed
   * at the engine keeps its learned place (its base score is the engine's
   * current one when given, as `LearnedSearch` does).
   */
  maxItems?: number
}

/** Options of `Reranker.open`. */
export interface OpenRerankerOptions extends OpenDbOptions {
  maxItems?: number
}

/**
 * The learner without hnsw-gnn's index: it reorders the candidates another
 * engine (Postgres/pgvector, LanceDB, Elasticsearch, ...) found, learning
 * from feedback exactly as `VectorDB` does — the same model, guardrail,
 * interleaving and persistence — over the items it has seen in candidate
 * lists (their vectors, its own HNSW graph over them for message passing,
 * and co-clicks). It returns only the candidates it was given, so results
 * never cross the engine's filters or tenants.
 *
 * @example
 * const reranker = new Reranker({ dimensions: 384, path: 'learned.hgnn' })
 * const { searchId, hits } = await reranker.rerank(query, candidates, { k: 10 })
 * await reranker.feedback({ searchId, clicked: [hits[0].id] })
 */
export declare class Reranker {
  constructor(options: RerankerOptions)
  /** Opens a saved reranker; `{ readOnly: true }` follows a writer in another process (see `refresh`). */
  static open(path: string, options?: OpenRerankerOptions): Promise<Reranker>
  /** Items held. */
  readonly size: number
  readonly dimensions: number
  readonly metric: Metric
  readonly maxItems: number
  /** Of `ids`, those this reranker does not hold: their vectors are needed by `rerank`. */
  missing(ids: string[]): string[]
  /**
   * The best `k` (default 10) of `candidates` for `query`, ordered by the
   * serving model (`baseScore` + the learned part; a share `explore` of
   * requests interleaves the base and learned orders), or by `baseScore`
   * before a model serves or with `rerank: false`. Candidates not held
   * yet are stored first (a writer) or ranked by base score alone (a
   * reader). Ranking held candidates runs on the calling thread (tens of
   * microseconds for 100); storing new ones runs off it. Rejects with
   * `ERR_NOT_FOUND` for a candidate it does not hold given without a
   * vector, `ERR_DIMENSION_MISMATCH`, `ERR_INVALID_VECTOR`,
   * `ERR_INVALID_ARGUMENT`.
   */
  rerank(query: Float32Array | number[], candidates: RerankCandidate[], options?: RerankOptions): Promise<SearchResult>
  /** As `VectorDB.feedback`; a read-only reranker keeps it for `exportFeedback`. */
  feedback(feedback: Feedback): Promise<void>
  train(options?: AbortOptions): Promise<TrainingReport>
  learningStats(): LearningStats
  resetLearning(): Promise<void>
  exportFeedback(): Uint8Array
  importFeedback(batch: Uint8Array): Promise<{ sessions: number; items: number }>
  stats(): DatabaseStats
  save(options?: AbortOptions): Promise<void>
  refresh(): Promise<boolean>
  close(): Promise<void>
}

/**
 * What {@link LearnedSearch} needs of an engine: `hnsw-gnn/pgvector`'s
 * `PgVectorSource` and `hnsw-gnn/lancedb`'s `LanceDbSource` are two.
 */
export interface CandidateSource {
  /** The metric the engine ranks by; must be the reranker's. */
  readonly metric?: Metric
  /** The best `k` items for `query`, best first, with scores on hnsw-gnn's scale. */
  search(query: Float32Array | number[], options: { k: number; filter?: Filter }): Promise<Array<{ id: string; score: number; metadata?: Record<string, unknown> }>>
  /** The vectors of those `ids` that exist, in one round trip (a `Map` serves). */
  vectors(ids: string[]): Promise<{ get(id: string): Float32Array | undefined }>
}

/**
 * Another engine's search with learned ranking: fetches `depth` (default
 * 100) candidates' ids, then vectors only for those the reranker does not
 * hold, and reranks them. The engine's scores are the base scores and its
 * metadata is what hits show (both current at the engine); candidates the
 * engine no longer holds when their vectors are fetched are dropped.
 *
 * @example
 * const search = new LearnedSearch(new PgVectorSource({ pool, table: 'docs', id: 'id', vector: 'embedding', metadata: 'attributes', metric: 'cosine' }), reranker)
 * const { searchId, hits } = await search.search(query, { k: 10, filter: { lang: 'en' } })
 * await search.feedback({ searchId, clicked: [hits[1].id] })
 */
export declare class LearnedSearch {
  constructor(source: CandidateSource, reranker: Reranker, options?: { depth?: number })
  readonly depth: number
  /** `expand` as in {@link RerankOptions}: the predicate vets what the engine's filter did not see. */
  search(query: Float32Array | number[], options?: { k?: number; filter?: Filter; expand?: RerankOptions['expand'] }): Promise<SearchResult>
  feedback(feedback: Feedback): Promise<void>
}

// ---------------------------------------------------------------- GNN layers

/** A row-major `f32` matrix: `data` holds `rows × cols` values. */
export interface Matrix {
  data: Float32Array
  rows: number
  cols: number
}

/** Compressed sparse rows: node `i` aggregates `targets[offsets[i]] .. targets[offsets[i + 1]]`. */
export interface CsrGraph {
  offsets: Uint32Array
  targets: Uint32Array
}

/**
 * Node features: a `Float32Array` of `numNodes × inputDim` values (row
 * major), or a {@link Matrix} such as `snapshot().features` or a layer's
 * output. Read in place, never copied; do not modify it while an async call
 * runs.
 */
export type Features = Float32Array | Matrix

/**
 * Who aggregates whom: a {@link Graph} (what layers derive from it is
 * cached across calls, so prefer it for repeated calls), CSR arrays, or one
 * neighbour list per node. Node `i` aggregates the nodes listed for it.
 */
export type GraphInput = Graph | CsrGraph | number[][]

/** Options of `new Graph`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface GraphOptions {
  /**
   * How layers store the rows they gather on this graph (default `'f32'`).
   * `'f16'` rounds them to half precision: half the bytes to move, and a
   * 100k × 64 projection fits in L3, at a relative error of about 2⁻¹¹ of
   * the terms' magnitudes (≤ 2e-3 of the output's scale on the benchmark
   * layers). Used by GCN inference today.
   */
  precision?: 'f32' | 'f16'
}

/**
 * A graph for the GNN layers, validated once (`ERR_INVALID_GRAPH` for
 * out-of-range ids or inconsistent offsets); what a layer derives from it
 * (self loops, normalisation, transpose) is cached, so pass the same
 * `Graph` to repeated calls.
 */
export declare class Graph {
  constructor(adjacency: CsrGraph | number[][], options?: GraphOptions)
  readonly numNodes: number
  readonly numEdges: number
  /** How layers store the rows they gather on this graph (see {@link GraphOptions}). */
  readonly precision: 'f32' | 'f16'
  /** A copy of the CSR arrays. */
  csr(): CsrGraph
}

/**
 * The message-passing engine on its own: row `i` of the result reduces the
 * features of node `i`'s neighbours with `'sum'`, `'mean'` or `'max'`
 * (zeros for a node without neighbours). A bare `Float32Array` holds one
 * row per node. A NaN or infinite feature is an `ERR_INVALID_VECTOR`.
 */
export declare function aggregate(features: Features | HalfFeatures, graph: GraphInput, aggregation: 'sum' | 'mean' | 'max'): Promise<Matrix>
/** Like `aggregate`, on the calling thread. */
export declare function aggregateSync(features: Features | HalfFeatures, graph: GraphInput, aggregation: 'sum' | 'mean' | 'max'): Matrix

/**
 * Node features rounded once to IEEE half precision, for repeated
 * aggregations: `aggregate(new HalfFeatures(m), graph, 'mean')` gathers half
 * the bytes (100k × 128 features fit in a 32 MB L3 cache), and each output
 * value is within 2⁻¹¹ × the sum of its terms' magnitudes of the `f32`
 * result. `'sum'` and `'mean'` only (`'max'` is an `ERR_INVALID_ARGUMENT`).
 * A NaN, infinite or out-of-range (|x| > 65504) feature is an
 * `ERR_INVALID_VECTOR`.
 */
export declare class HalfFeatures {
  constructor(features: Matrix)
  readonly rows: number
  readonly cols: number
  /** The rounded values widened back to `f32`. */
  toMatrix(): Matrix
}

/** An element-wise non-linearity. */
export type Activation = 'none' | 'linear' | 'relu' | 'leaky_relu' | 'leakyRelu' | 'elu' | 'gelu' | 'tanh'

/** Options every layer takes. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface LayerOptions {
  /** Width of the input features (required). */
  inputDim: number
  /** Width of the output (required). */
  outputDim: number
  /** The layer's non-linearity; each class documents its default. */
  activation?: Activation
  /** LeakyReLU's negative slope (default 0.01) or ELU's alpha (default 1). */
  activationParameter?: number
  /** Add the layer's input to its output (needs `inputDim === outputDim`; default `false`). */
  residual?: boolean
  /** Layer normalisation of each node's output (default `false`). */
  layerNorm?: boolean
  /**
   * Dropout rate in [0, 1) on the output during training (Rust
   * `GnnStack::forward_train`; default 0); forward passes from JS are
   * inference and never drop.
   */
  dropout?: number
  /** Seeds the initial weights and neighbour sampling (random when omitted). */
  seed?: number
}

/** Options of `saveWeights`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface SaveWeightsOptions {
  /** `'f32'` (default, exact), `'f16'` (half the size) or `'int8'` (a quarter, one scale per row). */
  weightType?: 'f32' | 'f16' | 'int8'
}

/** A GAT forward pass with its attention weights. */
export interface AttentionOutput {
  output: Matrix
  /**
   * `(edges × heads)` row-major: the weight of edge `e` in head `h` is
   * `attention[e * heads + h]`, edges in the order of `graph`; each node's
   * weights sum to 1 per head.
   */
  attention: Float32Array
  heads: number
  /** The graph attended over: the input plus self loops (unless `selfLoops: false`). */
  graph: CsrGraph
}

/** What every layer has (GCNLayer, GATLayer and GraphSAGE). */
export interface GnnLayer {
  readonly inputDim: number
  readonly outputDim: number
  /** The configuration stored beside the weights: each block's options. */
  readonly config: Record<string, unknown>
  /** Whether weights are read in place from a memory-mapped file (`loadWeights` of an f32 file). */
  readonly weightsMapped: boolean
  /**
   * A copy of every parameter by name: `'0.weight'` is layer 0's
   * `inputDim × outputDim` weight (`x · W`), `'0.bias'` its bias (one-row
   * matrices for vectors); GAT adds `attention_source` and
   * `attention_destination` (`heads × headDim`), GraphSAGE
   * `neighbor_weight` and, for LSTM, `lstm_input_weight`, `lstm_bias`,
   * `lstm_hidden_weight` (gates ordered input, forget, cell, output).
   */
  weights(): Record<string, Matrix>
  /**
   * The layer's output for every node, computed off the JS thread (in
   * parallel over nodes). Rejects with `ERR_DIMENSION_MISMATCH` when the
   * features do not match `inputDim` or the graph's node count,
   * `ERR_INVALID_VECTOR` for a NaN or infinite feature and
   * `ERR_INVALID_GRAPH` for out-of-range neighbour ids.
   *
   * @example
   * const { graph, features } = await db.snapshot()
   * const out = await layer.forward(features, graph)
   */
  forward(features: Features, graph: GraphInput): Promise<Matrix>
  /** Like `forward`, on the calling thread. */
  forwardSync(features: Features, graph: GraphInput): Matrix
  /** Writes the configuration and weights to a model file at `path`, atomically. */
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

/** Options of `GCNLayer`. */
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
 * const { data, rows, cols } = await gcn.forward(features, graph)
 */
export declare class GCNLayer {
  constructor(options: GCNLayerOptions)
}
export interface GCNLayer extends GnnLayer {}

/** Options of `GATLayer`. */
export interface GATLayerOptions extends LayerOptions {
  /** Attention heads (default 1, at most 256). */
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
export declare class GATLayer {
  constructor(options: GATLayerOptions)
  /** `forward` plus the attention weights over the graph attended (the input with self loops added). */
  forwardWithAttention(features: Features, graph: GraphInput): Promise<AttentionOutput>
  forwardWithAttentionSync(features: Features, graph: GraphInput): AttentionOutput
}
export interface GATLayer extends GnnLayer {}

/** Options of `GraphSAGE`. */
export interface GraphSAGEOptions extends LayerOptions {
  /** Layers (default 2, at most 64). */
  numLayers?: number
  /** Width between layers (default `inputDim`). */
  hiddenDim?: number
  /** How neighbours are summarised (default `'mean'`). */
  aggregator?: 'mean' | 'max' | 'sum' | 'lstm'
  /**
   * Neighbours sampled per hop from the target nodes outwards, one entry per
   * layer: `[10, 5]` takes 10 neighbours of each target and 5 of each of
   * those (as PyG's `NeighborLoader`). Omit to use every neighbour.
   * Sampling is seeded, so repeated calls agree.
   */
  sampleSizes?: number[]
  /** Scale every layer's output rows to unit length (default `false`). */
  normalize?: boolean
}

/**
 * GraphSAGE (Hamilton et al.): each layer is
 * `σ(x W_self + agg(neighbours) W_neigh + b)`; `activation` (default
 * `relu`) applies between layers, not after the last.
 *
 * @example
 * const sage = new GraphSAGE({ inputDim: 128, outputDim: 64, numLayers: 2, sampleSizes: [10, 5] })
 * const rows = await sage.forwardMinibatch(features, graph, [0, 42])
 */
export declare class GraphSAGE {
  constructor(options: GraphSAGEOptions)
  /**
   * The output rows of `batch` nodes only (in that order), computing just
   * their sampled receptive field: equal to those rows of `forward`.
   * Rejects with `ERR_INVALID_GRAPH` for a node id out of range.
   */
  forwardMinibatch(features: Features, graph: GraphInput, batch: Uint32Array | number[]): Promise<Matrix>
  forwardMinibatchSync(features: Features, graph: GraphInput, batch: Uint32Array | number[]): Matrix
}
export interface GraphSAGE extends GnnLayer {}
