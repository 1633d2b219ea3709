#!/usr/bin/env node
'use strict'
// Why no learner can win back all of its gain after the drift: for the
// held-out queries of the groups that drift, how many of the items they
// want afterwards are within reach — in base search's top 10 (what users
// see, so what they can click) and in its top 100 (what a reranker scores)
// — before and after the change, per seed.
//
//   node benchmark/learning/drift-reach.js [--datasets synthetic,npm-scopes] [--seeds 5]

const { parseArgs } = require('node:util')
const { loadDataset } = require('./datasets')
const { createBase } = require('./base')
const { rowViews } = require('../lib/adapters')
const { splitQueries, Relevance } = require('./split')
const { streams } = require('./protocol')

async function main() {
  const { values } = parseArgs({ options: { datasets: { type: 'string', default: 'synthetic,npm-scopes' }, seeds: { type: 'string', default: '5' } } })
  for (const name of values.datasets.split(',')) {
    const dataset = loadDataset(name)
    const base = await createBase(dataset)
    const rows = rowViews(dataset.queries.vectors, dataset.dim)
    const group = dataset.queries.group
    console.log(`\n${name}: held-out queries of the drifted groups; relevant items per query within base search's top 10 / top 100 (mean), and queries with none in the top 100`)
    console.log('seed  queries  before: top 10 / top 100  after: top 10 / top 100  none in top 100 after')
    for (let seed = 1; seed <= Number(values.seeds); seed++) {
      const random = streams(seed)
      const split = splitQueries(group, random.split)
      const relevance = new Relevance(dataset.itemGroup, dataset.groupCount, group)
      const wanted = (q) => relevance.forGroup(group[q])
      const reach = (queries) => {
        let top10 = 0
        let top100 = 0
        let none = 0
        for (const q of queries) {
          const { ids } = base.search(rows[q], 100)
          const { isRelevant } = wanted(q)
          const hits = Array.from(ids, (id) => isRelevant(id))
          top10 += hits.slice(0, 10).filter(Boolean).length
          const within = hits.filter(Boolean).length
          top100 += within
          if (within === 0) none++
        }
        return { top10: top10 / queries.length, top100: top100 / queries.length, none }
      }
      const drifted = new Set(relevance.drift(random.drift))
      const queries = Array.from(split.test).filter((q) => drifted.has(group[q]))
      // Relevance before the change, for the same queries.
      const before = new Relevance(dataset.itemGroup, dataset.groupCount, group)
      const saved = relevance.meaning
      relevance.meaning = before.meaning
      const b = reach(queries)
      relevance.meaning = saved
      const a = reach(queries)
      console.log(`${String(seed).padEnd(4)}  ${String(queries.length).padStart(7)}  ${b.top10.toFixed(2).padStart(12)} / ${b.top100.toFixed(2).padEnd(8)}  ${a.top10.toFixed(2).padStart(11)} / ${a.top100.toFixed(2).padEnd(8)}  ${a.none} (${((100 * a.none) / queries.length).toFixed(0)}%)`)
    }
  }
}

main().catch((err) => {
  console.error(err.stack || String(err))
  process.exit(1)
})
