import { HnswGnnStore } from '../langchain/index.mjs' // in your project: from 'hnsw-gnn/langchain'
import { Embeddings } from '@langchain/core/embeddings'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// A toy bag-of-words embedding, so this runs offline; use a real model in your app.
class WordEmbeddings extends Embeddings {
  embedQuery = async (text) => {
    const vector = new Array(256).fill(0)
    for (const word of text.toLowerCase().match(/[a-z]+/g)) {
      vector[[...word].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 256, 7)] += 1
    }
    return vector
  }
  embedDocuments = (texts) => Promise.all(texts.map(this.embedQuery))
}

const embeddings = new WordEmbeddings({})
const directory = mkdtempSync(join(tmpdir(), 'kb-')) // the store is one file in it
const store = await HnswGnnStore.fromTexts(
  ['Reset a password from the login page.', 'Change the email address under Profile.', 'Delete an account under Settings.'],
  [{ section: 'login' }, { section: 'profile' }, { section: 'settings' }],
  embeddings,
  { directory },
)

// Retrieve as any LangChain chain would; filters name the documents' metadata fields.
const retriever = store.asRetriever({ k: 2, filter: { section: { $in: ['profile', 'settings'] } } })
const docs = await retriever.invoke('How do I change my email?')
console.log(docs.map((d) => d.pageContent))

// Tell the store which retrieved chunk the answer used: later searches learn from it.
await store.feedback({ used: [docs[0]] })
console.log('sessions logged:', store.db.learningStats().sessions)

await store.save(directory)
await store.close()
const reopened = await HnswGnnStore.load(directory, embeddings)
const [[doc, score]] = await reopened.similaritySearchWithScore('reset my password', 1)
console.log(doc.metadata, score.toFixed(3))
await reopened.close()
rmSync(directory, { recursive: true })
