// Types of `hnsw-gnn/langchain`: a LangChain.js VectorStore over hnsw-gnn.
// Needs `@langchain/core` 1.x (a peer dependency of hnsw-gnn).
//
// This file types the CommonJS entry; `npm pack` copies it to index.d.mts
// for the ES module entry. The text is the same, but TypeScript resolves
// the `@langchain/core` imports below in the declaring file's module format,
// and @langchain/core's CommonJS and ES module declarations are distinct
// classes to it: a store typed against the one is not assignable to the
// other's VectorStore.
import { VectorStore, type MaxMarginalRelevanceSearchOptions } from '@langchain/core/vectorstores'
import type { DocumentInterface } from '@langchain/core/documents'
import type { EmbeddingsInterface } from '@langchain/core/embeddings'
import type { Filter, OpenDbOptions, VectorDB, VectorDbOptions } from '../index.js'

/** Options of `new HnswGnnStore(embeddings, options)`: VectorDB options (less `dimensions`, taken from the first embeddings, and `path`) plus the store's own. */
export interface HnswGnnStoreOptions extends Partial<Omit<VectorDbOptions, 'dimensions' | 'path'>> {
  /** Length of the embeddings; by default that of the first vectors added. */
  dimensions?: number
  /** Keep the store in `<directory>/hnsw-gnn.hgnn` (created on the first add), so every write and what the store learns is durable. Without it the store lives in memory. */
  directory?: string
  /** Use this database instead of making one. */
  db?: VectorDB
}

/** Options of `addDocuments` and `addVectors`. */
export interface HnswGnnAddOptions {
  /** One id per document; otherwise `document.id`, otherwise generated. Adding an existing id replaces that document. */
  ids?: string[]
}

/** Which retrieved documents a RAG app used, for `HnswGnnStore.feedback`. */
export interface HnswGnnFeedback {
  /** The search the documents came from; needed only when passing ids instead of the returned Document objects. */
  searchId?: string
  /** Documents (as returned by a search or retriever of this store) or their ids that the app used: counted as clicks. */
  used?: Array<DocumentInterface | string>
  /** Documents or ids that led to an outcome the app values (an accepted answer, a purchase): counted as conversions. */
  converted?: Array<DocumentInterface | string>
}

/**
 * A LangChain.js vector store kept in a hnsw-gnn database: HNSW search with
 * hnsw-gnn filters on the documents' metadata, and results that learn from
 * which retrieved documents the app used (`feedback`).
 *
 * A document is stored as `{ pageContent, metadata }`; filters name the
 * document's own metadata fields (`{ source: 'faq', year: { $gt: 2020 } }`).
 * Scores are higher-is-better: the hit's `score` (learned once a model
 * serves, else the metric's similarity: cosine similarity by default).
 *
 * @example
 * const store = await HnswGnnStore.fromTexts(texts, metadatas, embeddings, { directory: 'kb' })
 * const docs = await store.asRetriever(4).invoke('how do I reset my password?')
 * await store.feedback({ used: [docs[1]] })   // the chunk the answer cited
 */
export declare class HnswGnnStore extends VectorStore {
  FilterType: Filter
  _vectorstoreType(): string
  constructor(embeddings: EmbeddingsInterface, options?: HnswGnnStoreOptions)
  /** The database behind the store; `undefined` until the first documents are added (unless one was given). */
  get db(): VectorDB | undefined
  addDocuments(documents: DocumentInterface[], options?: HnswGnnAddOptions): Promise<string[]>
  addVectors(vectors: number[][], documents: DocumentInterface[], options?: HnswGnnAddOptions): Promise<string[]>
  similaritySearchVectorWithScore(query: number[], k: number, filter?: Filter): Promise<[DocumentInterface, number][]>
  maxMarginalRelevanceSearch(query: string, options: MaxMarginalRelevanceSearchOptions<Filter>): Promise<DocumentInterface[]>
  /** Deletes the documents with these ids; unknown ids are ignored. */
  delete(params: { ids: string[] }): Promise<void>
  /** The stored documents with these ids, in the order asked; unknown ids are left out. */
  getByIds(ids: string[]): Promise<DocumentInterface[]>
  /** The search id behind a document a search of this store returned (to send feedback later by id), or `undefined`. */
  searchIdOf(document: DocumentInterface): string | undefined
  /**
   * Reports which retrieved documents the app used, so later searches rank
   * documents like them higher. Rejects with `ERR_INVALID_ARGUMENT` for a
   * document that no search of this store returned (without `searchId`),
   * and as `VectorDB.feedback` does otherwise.
   */
  feedback(feedback: HnswGnnFeedback): Promise<void>
  /**
   * Saves the store as `<directory>/hnsw-gnn.hgnn`. A store with a file
   * saves it (and copies it when `directory` is another one) with what it
   * learned; an in-memory store writes its documents only.
   */
  save(directory: string): Promise<void>
  /** Opens a store saved in `directory`; it keeps writing to that file. */
  static load(directory: string, embeddings: EmbeddingsInterface, options?: OpenDbOptions): Promise<HnswGnnStore>
  /** Closes the database; later calls reject with `ERR_CLOSED`. */
  close(): Promise<void>
  static fromTexts(
    texts: string[],
    metadatas: object[] | object,
    embeddings: EmbeddingsInterface,
    options?: HnswGnnStoreOptions,
  ): Promise<HnswGnnStore>
  static fromDocuments(
    documents: DocumentInterface[],
    embeddings: EmbeddingsInterface,
    options?: HnswGnnStoreOptions,
  ): Promise<HnswGnnStore>
}
