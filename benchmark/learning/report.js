'use strict'
// Turns the jobs' results into the benchmark's tables (markdown), its
// learning-curve chart (SVG) and the numbers a learner must beat.

const { meanAndSpread } = require('./metrics')
const { mdTable } = require('../lib/report')
const { renderLearningCurves } = require('./chart')
const { CLICK_MODEL } = require('./clicks')

const SCENARIO_TITLES = {
  clicks: 'honest users (position-based clicks)',
  random: 'random clicks (adversary)',
  drift: 'relevance drift (half of the groups change meaning)',
}
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a')
const pct = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%` : 'n/a')
const pm = ({ mean, sd }, fmt = f3) => `${fmt(mean)} ± ${fmt(sd)}`
const short = (n) => (n >= 1000 ? `${n / 1000}k` : String(n))

// results: eval job results. Returns
//   cells[dataset][scenario][method] = { labels: [...], byLabel: { label: { sessions,
//     ndcg: [per seed], recall, mrr } }, searchP50: [per seed], seeds: [...] }
function collect(results) {
  const cells = {}
  for (const r of results) {
    const slot = (((cells[r.dataset] ??= {})[r.scenario] ??= {})[r.method] ??= { labels: [], byLabel: {}, searchP50: [], seeds: [], clicks: [] })
    slot.seeds.push(r.seed)
    slot.searchP50.push(r.searchP50Micros)
    slot.clicks.push(r.clicksPerSession)
    for (const p of r.points) {
      if (!slot.byLabel[p.label]) {
        slot.labels.push(p.label)
        slot.byLabel[p.label] = { sessions: p.sessions, ndcg: [], recall: [], mrr: [], seeds: [] }
      }
      const at = slot.byLabel[p.label]
      at.ndcg.push(p.ndcg)
      at.recall.push(p.recall)
      at.mrr.push(p.mrr)
      at.seeds.push(r.seed)
    }
  }
  return cells
}

// Per seed, method metric minus (or over) static's at the same label; the
// same seed means the same split, query stream and drift for both.
function paired(cell, staticCell, label, metric, combine) {
  const mine = cell.byLabel[label]
  const ref = staticCell && staticCell.byLabel[label]
  if (!mine || !ref) return meanAndSpread([])
  const values = []
  mine.seeds.forEach((seed, i) => {
    const j = ref.seeds.indexOf(seed)
    if (j >= 0) values.push(combine(mine[metric][i], ref[metric][j]))
  })
  return meanAndSpread(values)
}
const relativeGain = (a, b) => a / b - 1
const ratio = (a, b) => a / b
const difference = (a, b) => a - b

function curveTable(scenarioCells, methods) {
  const labels = scenarioCells[methods[0]].labels
  return mdTable(
    ['method', ...labels.map((l) => l.replace(/^(\d+)/, (n) => short(Number(n))))],
    methods.map((m) => [m, ...labels.map((l) => pm(meanAndSpread(scenarioCells[m].byLabel[l]?.ndcg || [])))]),
  )
}

function summaryTable(scenarioCells, methods, label) {
  const ref = scenarioCells.static
  const last = ref.labels[ref.labels.length - 1]
  return mdTable(
    ['method', `nDCG@10 at ${short(Number(label))}`, 'vs static', `recall@10`, 'MRR@10', `nDCG@10 at ${short(Number(last))}`, 'vs static', 'search p50 µs'],
    methods.map((m) => {
      const c = scenarioCells[m]
      const at = c.byLabel[label]
      return [
        m,
        pm(meanAndSpread(at.ndcg)),
        pm(paired(c, ref, label, 'ndcg', relativeGain), pct),
        pm(meanAndSpread(at.recall)),
        pm(meanAndSpread(at.mrr)),
        pm(meanAndSpread(c.byLabel[last].ndcg)),
        pm(paired(c, ref, last, 'ndcg', relativeGain), pct),
        meanAndSpread(c.searchP50).mean.toFixed(0),
      ]
    }),
  )
}

function randomTable(scenarioCells, methods) {
  const ref = scenarioCells.static
  const last = ref.labels[ref.labels.length - 1]
  return mdTable(
    ['method', `nDCG@10 at ${short(Number(last))}`, 'over static (mean ± sd)', 'worst seed'],
    methods.map((m) => {
      const r = paired(scenarioCells[m], ref, last, 'ndcg', ratio)
      return [m, pm(meanAndSpread(scenarioCells[m].byLabel[last].ndcg)), pm(r), f3(r.min)]
    }),
  )
}

// Drift: absolute nDCG gain over static under the relevance in force, just
// before the drift, right after it, and later; recovery = gain 3k sessions
// after the drift / gain just before it.
function driftTable(scenarioCells, methods, driftAt) {
  const ref = scenarioCells.static
  const before = String(driftAt)
  const after = `${driftAt} (drift)`
  const later = ref.labels.filter((l) => /^\d+$/.test(l) && Number(l) > driftAt)
  const recoveryLabel = String(driftAt + 3000)
  return mdTable(
    ['method', `gain at ${short(driftAt)} (before)`, 'right after drift', ...later.map((l) => `gain at ${short(Number(l))}`), 'recovered 3k after'],
    methods
      .filter((m) => m !== 'static')
      .map((m) => {
        const c = scenarioCells[m]
        const gainAt = (l) => paired(c, ref, l, 'ndcg', difference)
        const pre = gainAt(before).mean
        const rec = ref.byLabel[recoveryLabel] ? gainAt(recoveryLabel).mean / pre : NaN
        return [m, pm(gainAt(before)), pm(gainAt(after)), ...later.map((l) => pm(gainAt(l))), pre > 0 ? pct(rec).replace('+', '') : 'no gain to recover']
      }),
  )
}

function tuningTable(tuned) {
  return mdTable(
    ['dataset', 'method', 'grid', 'chosen parameters', 'validation objective', 'grid range'],
    tuned.map((t) => [t.dataset, t.method, String(t.gridSize), JSON.stringify(t.params), f3(t.objective), `${f3(t.min)} – ${f3(t.max)}`]),
  )
}

// Our learner and its ablation: the methods under test, not baselines.
const isOurs = (method) => method.startsWith('hnsw-gnn')

// The numbers a learner must beat, per dataset that ran the clicks scenario:
// the larger of +20% over static and the best method there, at `at` sessions.
function targets(cells, at) {
  const label = String(at)
  const level = (cell, l) => meanAndSpread(cell.byLabel[l].ndcg).mean
  return Object.entries(cells)
    .filter(([, byScenario]) => byScenario.clicks)
    .map(([dataset, { clicks, random }]) => {
      const staticNdcg = level(clicks.static, label)
      let best = { method: 'static', ndcg: staticNdcg }
      for (const [method, cell] of Object.entries(clicks)) {
        if (isOurs(method)) continue
        if (level(cell, label) > best.ndcg) best = { method, ndcg: level(cell, label) }
      }
      const staticRandom = random ? level(random.static, random.static.labels.at(-1)) : NaN
      return { dataset, staticNdcg, best, mustReach: Math.max(best.ndcg, 1.2 * staticNdcg), staticRandom }
    })
}

function markdown({ header, datasets, tuned, results, methods, driftAt, summaryAt, protocol, notes }) {
  const cells = collect(results)
  const out = [header, '']
  out.push('## Protocol', '', ...protocol, '')
  out.push('## Datasets', '', ...datasets.map((d) => `- **${d.name}**: ${d.description}. Static nDCG@10 on held-out queries (seed mean): ${f3(meanAndSpread(cells[d.name]?.clicks?.static?.byLabel['0']?.ndcg || []).mean)}.`), '')
  out.push('## Tuning (same budget for every method)', '', tuningTable(tuned), '')
  for (const [dataset, byScenario] of Object.entries(cells)) {
    out.push(`## ${dataset}`, '')
    for (const scenario of Object.keys(SCENARIO_TITLES)) {
      const sc = byScenario[scenario]
      if (!sc) continue
      const present = methods.filter((m) => sc[m])
      const seeds = sc[present[0]].seeds.length
      out.push(`### ${dataset} · ${SCENARIO_TITLES[scenario]}`, '', `Held-out nDCG@10 after N sessions (mean ± sd over ${seeds} seeds):`, '', curveTable(sc, present), '')
      if (scenario === 'clicks') out.push(summaryTable(sc, present, String(summaryAt)), '')
      if (scenario === 'random') out.push(randomTable(sc, present), '')
      if (scenario === 'drift') out.push('Gain = nDCG@10 − static nDCG@10 under the relevance in force (same seed):', '', driftTable(sc, present, driftAt), '')
    }
  }
  out.push(
    '## Reading the tables',
    '',
    '- "vs static", "over static" and the gains are paired per seed (same split, query stream and drift as static), so their spread is much smaller than that of the levels, which move with the split.',
    '- A gain under random clicks is not learned from clicks: a method that pools what similar past queries were *shown* (the memory, Rocchio) gets pseudo-relevance feedback from the lists alone. What a method learned from the clicks themselves is its gain with honest clicks minus its gain with random ones.',
    '- Drift gains are measured under the relevance in force, against static search, which loses the drifted half of its relevant items at once.',
    '',
  )
  out.push('## What the learner must beat', '')
  for (const t of targets(cells, summaryAt)) {
    out.push(
      `- **${t.dataset}**: held-out nDCG@10 after ${short(summaryAt)} sessions ≥ **${f3(t.mustReach)}** ` +
        `(static ${f3(t.staticNdcg)}; +20% would be ${f3(1.2 * t.staticNdcg)}; best baseline ${t.best.method} ${f3(t.best.ndcg)}, ${pct(t.best.ndcg / t.staticNdcg - 1)}); ` +
        `random clicks after 10k ≥ ${f3(0.99 * t.staticRandom)} (0.99 × static); drift: ≥ 80% of the pre-drift gain back 3k sessions after the drift.`,
    )
  }
  const ours = methods.filter(isOurs)
  if (ours.length) {
    out.push('', '## The learner against its targets', '')
    const level = (cell, l) => meanAndSpread(cell.byLabel[l].ndcg).mean
    for (const t of targets(cells, summaryAt)) {
      const { clicks, random } = cells[t.dataset]
      for (const method of ours.filter((m) => clicks[m])) {
        const reached = level(clicks[method], String(summaryAt))
        const randomCell = random && random[method]
        const randomRatio = randomCell ? level(randomCell, randomCell.labels.at(-1)) / t.staticRandom : NaN
        out.push(
          `- **${t.dataset}**, ${method}: held-out nDCG@10 after ${short(summaryAt)} sessions ${f3(reached)} ` +
            `(${pct(reached / t.staticNdcg - 1)} over static) against ${f3(t.mustReach)}: **${reached >= t.mustReach ? 'met' : 'missed'}**; ` +
            (randomCell ? `random clicks ${randomRatio.toFixed(3)} × static: **${randomRatio >= 0.99 ? 'met' : 'missed'}**.` : 'random clicks not run.'),
        )
      }
    }
  }
  out.push('', ...notes, '')
  return out.join('\n')
}

function chart(results, methods, driftAt) {
  const cells = collect(results)
  const panels = []
  for (const [dataset, byScenario] of Object.entries(cells)) {
    for (const scenario of Object.keys(SCENARIO_TITLES)) {
      const sc = byScenario[scenario]
      if (!sc) continue
      panels.push({
        title: `${dataset} · ${scenario}`,
        xLabel: 'sessions of feedback',
        yLabel: 'held-out nDCG@10 − static',
        xTicks: [0, 500, 1000, 2000, 5000, 10000],
        marker: scenario === 'drift' ? { x: driftAt, label: 'drift' } : undefined,
        series: methods
          .filter((m) => sc[m])
          .map((m) => ({
            name: m,
            // Paired with static (same seed: same split, queries and drift),
            // which takes out the seed-to-seed spread of the level itself.
            points: sc[m].labels.map((l) => {
              const s = paired(sc[m], sc.static, l, 'ndcg', difference)
              return { x: sc[m].byLabel[l].sessions, mean: s.mean, lo: s.mean - s.sd, hi: s.mean + s.sd }
            }),
          })),
      })
    }
  }
  return renderLearningCurves({
    title: 'Held-out nDCG@10 gain over static search as feedback accumulates (mean ± sd over seeds; after the drift, under the relevance in force)',
    columns: 3,
    panels,
  })
}

function protocolLines({ seeds, sessions, checkpoints, driftAt, tuning, budget, trainEvery }) {
  return [
    `- Sessions draw a train query uniformly at random; the learner shows its top 10; a simulated user clicks: examination 1/rank^${CLICK_MODEL.examinationExponent}, click ${CLICK_MODEL.clickIfRelevant} if relevant / ${CLICK_MODEL.clickIfNotRelevant} if not, ${100 * CLICK_MODEL.conversionIfRelevantClick}% of relevant clicks convert. The adversary makes as many clicks and conversions as an honest user would on the same list, uniformly at random among the shown items.`,
    `- Queries split per group (seeded per run): 30% held-out test (never given feedback), of the rest 20% validation; tuning takes feedback from train minus validation and scores validation; the reported runs take feedback from all train queries and score the test queries. \`train()\` is called every ${trainEvery} sessions.`,
    `- Metrics on the held-out test queries after ${checkpoints.map(short).join(', ')} sessions: nDCG@10 (binary relevance), recall@10 capped at min(10, group size), MRR@10; mean ± sample sd over ${seeds} seeds (seed = split, query stream, clicks and drift).`,
    `- Drift scenario: after ${short(driftAt)} sessions half of the groups (seeded) take another drifted group's meaning; the row "${driftAt} (drift)" is measured right after the change.`,
    `- Tuning: every method gets at most ${budget} configurations, scored on the validation slice after ${tuning.checkpoints.map(short).join(' and ')} sessions of the clicks scenario (seed ${tuning.seed}, mean of the two); the chosen configuration runs every scenario (no per-scenario tuning). The feedback baselines keep their evidence with the product's defaults (half-life 5,000 sessions, conversions weighted 3).`,
    `- Base retrieval for every method: hnsw-gnn's HNSW (cosine, M 16, efConstruction 200, efSearch 160), top 100 candidates cached per query, so "search p50 µs" is the method's own cost on top of it (Rocchio's includes its second search). Runs: ${sessions.toLocaleString('en-US')} sessions each.`,
  ]
}

module.exports = { collect, markdown, chart, protocolLines, targets }
