'use strict'
// `require('hnsw-gnn/langchain')`: HnswGnnStore on @langchain/core's CommonJS build.
const { VectorStore } = require('@langchain/core/vectorstores')
const { Document } = require('@langchain/core/documents')
const { maximalMarginalRelevance } = require('@langchain/core/utils/math')
const { createStoreClass } = require('./store.cjs')

exports.HnswGnnStore = createStoreClass({ VectorStore, Document, maximalMarginalRelevance })
