// `import { HnswGnnStore } from 'hnsw-gnn/langchain'`: HnswGnnStore on
// @langchain/core's ES module build (see store.cjs for why not the CommonJS one).
import { VectorStore } from '@langchain/core/vectorstores'
import { Document } from '@langchain/core/documents'
import { maximalMarginalRelevance } from '@langchain/core/utils/math'
import store from './store.cjs'

export const HnswGnnStore = store.createStoreClass({ VectorStore, Document, maximalMarginalRelevance })
