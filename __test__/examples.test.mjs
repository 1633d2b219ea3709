// Runs every examples/*.mjs as a child process: each must exit with code 0;
// the demo and the quickstart must print what they promise.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('..', import.meta.url))
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.mjs')).sort()

// A guard against a hung example, not a speed check: the demo trains for
// ~20 s on a quiet 2-core machine and takes twice that when the machine is
// shared (it was killed at 30 s once while a 1M build ran beside the suite).
const HANG_GUARD_MS = 180_000

function run(file) {
  return new Promise((resolve) => {
    execFile(process.execPath, [join('examples', file)], { cwd: root, timeout: HANG_GUARD_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr })
    })
  })
}

const outputs = new Map()
async function output(file) {
  if (!outputs.has(file)) outputs.set(file, run(file))
  return outputs.get(file)
}

test('there are examples to run, including demo.mjs and quickstart.mjs', () => {
  assert.ok(examples.includes('demo.mjs'))
  assert.ok(examples.includes('quickstart.mjs'))
})

for (const file of examples) {
  test(`node examples/${file} exits with code 0`, async () => {
    const { code, stdout, stderr } = await output(file)
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`)
    assert.ok(stdout.length > 0, 'prints something')
  })
}

test('quickstart prints the one shoe under $50 with the score the README shows', async () => {
  const { stdout } = await output('quickstart.mjs')
  assert.match(stdout, /^[0-9a-f]+-[0-9a-f]+ \[/, 'starts with the searchId')
  assert.match(stdout, /id: 'red-shoe'/)
  assert.match(stdout, /score: 0\.99\d*/)
  assert.match(stdout, /distance: 0\.006\d*/)
  assert.match(stdout, /metadata: \{ category: 'shoes', price: 40 \}/)
  assert.doesNotMatch(stdout, /blue-shoe|red-hat/)
})

test('demo prints the progress bar, searches, writes, throughput and SIMD path', async (t) => {
  const { stdout } = await output('demo.mjs')
  // The progress bar is one line redrawn with \r, finished by a newline.
  const progressLine = stdout.split('\n').find((line) => line.startsWith('\rIndexing'))
  assert.ok(progressLine, 'a progress line starting with \\rIndexing')
  assert.ok(progressLine.split('\r').length > 2, 'the progress bar is redrawn several times')
  assert.match(progressLine, /\] 100% 20000\/20000$/)

  const lines = stdout.split('\n').map((line) => line.split('\r').at(-1))
  const expectLine = (re) => {
    const i = lines.findIndex((line) => re.test(line))
    assert.ok(i >= 0, `no line matching ${re} in:\n${stdout}`)
    return i
  }
  expectLine(/^hnsw-gnn demo: 20,000 products, 64-d, cosine$/)
  expectLine(/^Inserted 20000 products in \d+ ms$/)

  const hitLine = /^ {2}(sku-[\w-]+) +score (-?\d\.\d{3}) +(\w+) +\$ *(\d+) +(in stock|sold out)$/
  const block = (title, n) => {
    const at = expectLine(title)
    const hits = lines.slice(at + 1, at + 1 + n).map((line) => line.match(hitLine))
    assert.ok(hits.every(Boolean), `expected ${n} hit lines after ${title}:\n${lines.slice(at, at + 1 + n).join('\n')}`)
    return hits.map(([, id, score, category, price, stock]) => ({ id, score: Number(score), category, price: Number(price), stock }))
  }
  const similar = block(/^Top 5 similar products:$/, 5)
  for (let i = 1; i < similar.length; i++) assert.ok(similar[i].score <= similar[i - 1].score)

  const cheapShoes = block(/^Top 5 shoes under \$50:$/, 5)
  for (const hit of cheapShoes) {
    assert.equal(hit.category, 'shoes')
    assert.ok(hit.price < 50)
  }

  expectLine(/^Upserted sku-new-01, marked sku-\d+ sold out, deleted sku-\d+ \(true\); size is now 20000$/)
  const inStock = block(/^Top 3 cheap shoes in stock now:$/, 3)
  assert.equal(inStock[0].id, 'sku-new-01')
  for (const hit of inStock) assert.equal(hit.stock, 'in stock')

  const qps = lines[expectLine(/^searchBatch: 1000 queries x k=10 in \d+ ms = [\d,]+ QPS$/)]
  t.diagnostic(qps)
  expectLine(/^SIMD: (avx512|avx2|neon|scalar) \(available: [a-z0-9, ]+\)$/)
})

test('the README quick start is examples/quickstart.mjs, import path aside', async () => {
  const { readFileSync } = await import('node:fs')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = readme.split('## Quick start')[1].split('```js\n')[1].split('```')[0]
  const example = readFileSync(join(root, 'examples', 'quickstart.mjs'), 'utf8')
    .replace("import { VectorDB } from '../index.js' // in your project: from 'hnsw-gnn'", "import { VectorDB } from 'hnsw-gnn'")
  assert.equal(block, example)
})

test('the README shows each GNN example as it is in examples/, import path aside', async () => {
  const { readFileSync } = await import('node:fs')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const blocks = readme.split('## GNN layers')[1].split('\n## ')[0].split('```js\n').slice(1).map((b) => b.split('```')[0])
  const files = ['gnn-gcn.mjs', 'gnn-gat.mjs', 'gnn-sage.mjs'].map((f) =>
    readFileSync(join(root, 'examples', f), 'utf8').replace(" from '../index.js' // in your project: from 'hnsw-gnn'", " from 'hnsw-gnn'"),
  )
  assert.deepEqual(blocks, files)
})

test('the GNN examples print what they show', async () => {
  assert.match((await output('gnn-gcn.mjs')).stdout, /^GCN: 200 × 4; item-0 → \[/m)
  const gat = (await output('gnn-gat.mjs')).stdout
  assert.equal(gat.match(/^0 ← [0-2]: \[ [0-9.]+, [0-9.]+ \]$/gm).length, 3, 'node 0 attends to 1, 2 and itself')
  assert.match(gat, /GAT output: 4 × 4/)
  const sage = (await output('gnn-sage.mjs')).stdout
  assert.match(sage, /minibatch row 0 equals the full pass: true/)
  assert.match(sage, /restored output identical: true/)
})

test('the README starts with its two commands: build + demo, and the tests', async () => {
  const { readFileSync } = await import('node:fs')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const commands = readme.split('```sh\n')[1].split('```')[0]
  assert.match(commands, /^npm install && npm run demo/m)
  assert.match(commands, /^npm install && npm test/m)
})

test('the learning example ranks what shoppers chose first for a query nobody asked', async () => {
  const { stdout } = await output('learning.mjs')
  assert.match(stdout, /^before: dress-shoe, /m, 'base search puts the closest item first')
  assert.match(stdout, /^after: +trail-shoe \(score [0-9.]+, base [0-9.]+\)/m)
  assert.match(stdout, /^model version [1-9]\d*$/m)
})

test('the demo shows held-out queries getting better from simulated clicks, and writes the curve', async () => {
  const { stdout } = await output('demo.mjs')
  assert.match(stdout, /^Learning from clicks: 5000 items, 1000 queries shoppers ask, 500 held-out queries$/m)
  const [, before, after] = stdout.match(/held-out nDCG@10 ([0-9.]+) -> ([0-9.]+)/)
  assert.ok(Number(after) > Number(before), `held-out nDCG@10 ${before} -> ${after}`)
  const [, svg] = stdout.match(/learning curve: (\S+\.svg)$/m)
  const { readFileSync } = await import('node:fs')
  assert.match(readFileSync(svg, 'utf8'), /^<svg [^>]*>[\s\S]*<polyline [\s\S]*<\/svg>$/)
})

test('the README LangChain example is examples/langchain.mjs, import path aside, and retrieves by words and filter', async () => {
  const { readFileSync } = await import('node:fs')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = readme.split('## LangChain.js')[1].split('```js\n')[1].split('```')[0]
  const example = readFileSync(join(root, 'examples', 'langchain.mjs'), 'utf8').replace(
    "import { HnswGnnStore } from '../langchain/index.mjs' // in your project: from 'hnsw-gnn/langchain'",
    "import { HnswGnnStore } from 'hnsw-gnn/langchain'",
  )
  assert.equal(block, example)
  const { stdout } = await output('langchain.mjs')
  assert.match(stdout, /^\[\n {2}'Change the email address under Profile\.',\n {2}'Delete an account under Settings\.'\n\]$/m)
  assert.match(stdout, /^sessions logged: 1$/m)
  assert.match(stdout, /^\{ section: 'login' \} 0\.\d{3}$/m)
})

test('cluster: a model trained in the primary ranks in both serving workers', async () => {
  const { stdout } = await output('cluster.mjs')
  const line = stdout.split('\n').find((l) => l.startsWith('{"cluster"'))
  assert.ok(line, `a result line in:\n${stdout}`)
  const { cluster } = JSON.parse(line)
  assert.equal(cluster.sessions, 2 * 6 * 200, "every worker's feedback reached the primary")
  assert.ok(cluster.active, 'the primary trained a model from the workers feedback')
  assert.equal(cluster.workers.length, 2)
  for (const w of cluster.workers) {
    assert.notEqual(w.after, w.before, `worker ${w.worker}: the primary's model changed its held-out ranking`)
  }
  assert.equal(cluster.workers[0].after, cluster.workers[1].after, 'both workers serve the same model')
})

test('pgvector: the learned reranker lifts held-out nDCG@10 over pgvector alone', async (t) => {
  const { stdout } = await output('pgvector.mjs')
  if (stdout.startsWith('skipped:')) return t.skip(stdout.trim())
  const [, alone, learned] = stdout.match(/pgvector ([\d.]+), pgvector \+ learned reranker ([\d.]+)/) ?? []
  assert.ok(alone && learned, `the nDCG line in:\n${stdout}`)
  assert.ok(Number(learned) > Number(alone), stdout)
})
