'use strict'
// A small, dependency-free SVG renderer for learning curves: a grid of panels
// (one per dataset × scenario), each with one line per method through the
// per-checkpoint mean and a translucent band between lo and hi (the spread
// over seeds). The x axis is sqrt-scaled so 0, 500, 1k ... 10k all stay
// readable; the y axis is fitted per panel. One legend serves the whole
// figure and a method keeps its colour in every panel. Output is
// deterministic: no ids, no dates, no randomness.
//
//   renderLearningCurves({ title, columns, panels: [{ title, xLabel, yLabel,
//     xTicks?, marker?: { x, label }, series: [{ name, points: [{ x, mean,
//     lo, hi }] }] }] }) → string (a standalone SVG document)

// Okabe–Ito, reordered so the first few are the most distinct on white; the
// yellow (poor contrast on white) comes last. Past the palette, colours
// repeat with a dash pattern so the series stay distinguishable.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442']
const DASHES = [null, '6 3', '2 2', '8 3 2 3']

const FONT = 'sans-serif'
const SIZE = { title: 14, panelTitle: 13, axisLabel: 12, legend: 12, tick: 11, marker: 11 }
const INK = '#222222'
const MUTED = '#555555'
const GRID = '#e6e6e6'
const AXIS = '#888888'

// Layout, in px.
const L = {
  width: 1200,
  outer: 16, // margin around the figure
  titleH: 26,
  legendRowH: 22,
  legendGap: 10, // between legend and grid
  colGap: 26,
  rowGap: 18,
  panelH: 300,
  panelTitleH: 24,
  plotLeft: 62, // y tick labels + y axis label
  plotRight: 14,
  plotBottom: 46, // x tick labels + x axis label
  inset: 6, // keep end markers off the axis lines
}

// ------------------------------------------------------------ text helpers

function esc(s) {
  return String(s ?? '')
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

// Approximate advance of a sans-serif glyph, in em (DejaVu/Helvetica-ish).
function glyphEm(ch) {
  if (/[ijlI.,:;'|!()[\]{}]/.test(ch)) return 0.3
  if (/[ frt]/.test(ch)) return 0.38
  if (/[mwMW@]/.test(ch)) return 0.9
  if (/[A-Z&%]/.test(ch)) return 0.7
  return 0.58
}
const textWidth = (s, size) => [...String(s)].reduce((a, ch) => a + glyphEm(ch), 0) * size

function truncate(s, size, maxW) {
  s = String(s ?? '')
  if (textWidth(s, size) <= maxW) return s
  const chars = [...s]
  while (chars.length > 1 && textWidth(chars.join('') + '…', size) > maxW) chars.pop()
  return chars.join('') + '…'
}

// Coordinates: 1 decimal, no trailing ".0", no "-0".
function n(v) {
  const r = Math.round(v * 10) / 10
  return Object.is(r, -0) ? '0' : String(r)
}

// A number to at most `sig` significant digits, without exponent noise.
function sigFig(v, sig = 3) {
  if (v === 0 || !Number.isFinite(v)) return String(v === 0 ? 0 : v)
  const s = Number(v.toPrecision(sig))
  return Math.abs(s) >= 1e-4 && Math.abs(s) < 1e15 ? String(s) : s.toExponential(sig - 1)
}

// 0, 500, 1k, 2.5k, 10k, 1.5M
function fmtCount(v) {
  const a = Math.abs(v)
  if (a >= 1e9) return sigFig(v / 1e9) + 'G'
  if (a >= 1e6) return sigFig(v / 1e6) + 'M'
  if (a >= 1e3) return sigFig(v / 1e3) + 'k'
  return sigFig(v)
}

// ------------------------------------------------------------ scales

// sqrt-like, defined for negatives too.
const ssqrt = (x) => Math.sign(x) * Math.sqrt(Math.abs(x))

function linear(d0, d1, r0, r1) {
  const span = d1 - d0 || 1
  return (v) => r0 + ((v - d0) / span) * (r1 - r0)
}

// Auto x ticks for a sqrt axis: 0 and 1/2/5 × 10^k inside the domain.
function autoXTicks(lo, hi) {
  const out = []
  if (lo <= 0 && hi >= 0) out.push(0)
  const top = Math.max(Math.abs(lo), Math.abs(hi))
  if (top > 0) {
    for (let e = Math.floor(Math.log10(top)) - 3; e <= Math.ceil(Math.log10(top)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e
        const t = Number(v.toPrecision(12))
        if (t >= lo && t <= hi) out.push(t)
        if (-t >= lo && -t <= hi) out.push(-t)
      }
    }
  }
  return [...new Set(out)].sort((a, b) => a - b)
}

// Auto ticks crowd where the sqrt scale is steep: keep one whenever it is at
// least `gap` px from the previous kept one (and from the last, which stays).
function thinTicks(ticks, X, gap) {
  const kept = []
  for (let i = 0; i < ticks.length; i++) {
    const prev = kept[kept.length - 1]
    if (prev !== undefined && X(ticks[i]) - X(prev) < gap) {
      if (i === ticks.length - 1 && kept.length > 1) kept.pop()
      else continue
    }
    kept.push(ticks[i])
  }
  return kept
}

// 4–6 "nice" ticks (step 1, 2, 2.5 or 5 × 10^k) inside [lo, hi].
function niceYTicks(lo, hi) {
  const span = hi - lo
  const base = 10 ** Math.floor(Math.log10(span / 5))
  let best = null
  for (const e of [base / 10, base, base * 10]) {
    for (const m of [1, 2, 2.5, 5]) {
      const step = m * e
      const first = Math.ceil(lo / step - 1e-9)
      const last = Math.floor(hi / step + 1e-9)
      const count = last - first + 1
      if (count < 2) continue
      // Prefer 4–6 ticks, then the count closest to 5, then the rounder step.
      const score = (count >= 4 && count <= 6 ? 0 : 100) + Math.abs(count - 5) + (m === 2.5 ? 0.5 : 0)
      if (!best || score < best.score) best = { score, step, first, last, m }
    }
  }
  const ticks = []
  for (let i = best.first; i <= best.last; i++) ticks.push(Number((i * best.step).toPrecision(12)))
  // Decimals implied by the step (2.5 × 10^k needs one more).
  const decimals = Math.max(0, -Math.floor(Math.log10(best.step) + 1e-9) + (best.m === 2.5 ? 1 : 0))
  return { ticks, fmt: (v) => (decimals <= 6 ? v.toFixed(decimals) : sigFig(v)) }
}

// ------------------------------------------------------------ data helpers

const finite = (v) => typeof v === 'number' && Number.isFinite(v)

// Points with a finite x and mean, sorted by x; missing lo/hi fall back to mean.
function cleanPoints(points) {
  return (points || [])
    .filter((p) => p && finite(p.x) && finite(p.mean))
    .map((p) => ({
      x: p.x,
      mean: p.mean,
      lo: finite(p.lo) ? Math.min(p.lo, p.mean) : p.mean,
      hi: finite(p.hi) ? Math.max(p.hi, p.mean) : p.mean,
    }))
    .sort((a, b) => a.x - b.x)
}

// Series name → { color, dash }, in order of first appearance over all panels.
function styleMap(panels) {
  const map = new Map()
  for (const p of panels) {
    for (const s of p.series || []) {
      const name = String(s.name ?? '')
      if (map.has(name)) continue
      const i = map.size
      map.set(name, {
        color: PALETTE[i % PALETTE.length],
        dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length],
      })
    }
  }
  return map
}

// ------------------------------------------------------------ rendering

function text(x, y, s, { size = SIZE.tick, anchor = 'start', weight, fill = INK, extra = '' } = {}) {
  const w = weight ? ` font-weight="${weight}"` : ''
  const a = anchor !== 'start' ? ` text-anchor="${anchor}"` : ''
  const f = fill !== INK ? ` fill="${fill}"` : ''
  return `<text x="${n(x)}" y="${n(y)}" font-size="${size}"${a}${w}${f}${extra}>${esc(s)}</text>`
}

function renderLegend(styles, width, top) {
  // Lay items out in rows, centred.
  const items = [...styles].map(([name, st]) => ({ name, st, w: 30 + textWidth(name, SIZE.legend) + 24 }))
  const maxW = width - 2 * L.outer
  const rows = [[]]
  let rowW = 0
  for (const it of items) {
    if (rowW + it.w > maxW && rows[rows.length - 1].length) {
      rows.push([])
      rowW = 0
    }
    rows[rows.length - 1].push(it)
    rowW += it.w
  }
  const out = ['<g class="legend">']
  rows.forEach((row, r) => {
    const total = row.reduce((a, it) => a + it.w, 0)
    let x = (width - total) / 2
    const cy = top + r * L.legendRowH + L.legendRowH / 2
    for (const it of row) {
      const { color, dash } = it.st
      const d = dash ? ` stroke-dasharray="${dash}"` : ''
      out.push(
        `<rect x="${n(x)}" y="${n(cy - 6)}" width="24" height="12" fill="${color}" fill-opacity="0.18"/>`,
        `<line x1="${n(x)}" y1="${n(cy)}" x2="${n(x + 24)}" y2="${n(cy)}" stroke="${color}" stroke-width="2"${d}/>`,
        `<circle cx="${n(x + 12)}" cy="${n(cy)}" r="3" fill="${color}" stroke="#ffffff" stroke-width="0.8"/>`,
        text(x + 30, cy + 4, it.name, { size: SIZE.legend }),
      )
      x += it.w
    }
  })
  out.push('</g>')
  return { svg: out.join('\n'), height: rows.length * L.legendRowH }
}

function renderPanel(panel, styles, x0, y0, w, h) {
  const out = [`<g class="panel" transform="translate(${n(x0)},${n(y0)})">`]
  const px0 = L.plotLeft
  const px1 = w - L.plotRight
  const py0 = L.panelTitleH
  const py1 = h - L.plotBottom

  out.push(
    text(px0 + (px1 - px0) / 2, 16, truncate(panel.title, SIZE.panelTitle, w - 8), {
      size: SIZE.panelTitle,
      anchor: 'middle',
      weight: 'bold',
    }),
  )

  const series = (panel.series || []).map((s) => ({ name: String(s.name ?? ''), pts: cleanPoints(s.points) }))
  const all = series.flatMap((s) => s.pts)
  const givenTicks = Array.isArray(panel.xTicks) ? panel.xTicks.filter(finite) : null

  // Frame even when empty, so the grid stays aligned.
  out.push(
    `<rect x="${n(px0)}" y="${n(py0)}" width="${n(px1 - px0)}" height="${n(py1 - py0)}" fill="#ffffff" stroke="none"/>`,
  )

  if (!all.length) {
    out.push(
      `<rect x="${n(px0)}" y="${n(py0)}" width="${n(px1 - px0)}" height="${n(py1 - py0)}" fill="none" stroke="${GRID}" stroke-width="1.5"/>`,
      text((px0 + px1) / 2, (py0 + py1) / 2, 'no data', { anchor: 'middle', fill: MUTED, size: SIZE.axisLabel }),
      '</g>',
    )
    return out.join('\n')
  }

  // ---- x: sqrt scale over data ∪ given ticks
  let xmin = Math.min(...all.map((p) => p.x), ...(givenTicks || []))
  let xmax = Math.max(...all.map((p) => p.x), ...(givenTicks || []))
  if (xmin === xmax) {
    xmin -= 1
    xmax += 1
  }
  const sx = linear(ssqrt(xmin), ssqrt(xmax), px0 + L.inset, px1 - L.inset)
  const X = (v) => sx(ssqrt(v))
  let xTicks = (givenTicks || autoXTicks(xmin, xmax)).filter((t) => t >= xmin && t <= xmax)
  if (!givenTicks) xTicks = thinTicks(xTicks, X, 30)

  // ---- y: fitted to lo/hi, padded, nice ticks
  let ymin = Math.min(...all.map((p) => p.lo))
  let ymax = Math.max(...all.map((p) => p.hi))
  const span = ymax - ymin
  const pad = span > 0 ? span * 0.08 : Math.abs(ymax) * 0.05 || 0.05
  ymin -= pad
  ymax += pad
  const sy = linear(ymin, ymax, py1 - L.inset, py0 + L.inset)
  const { ticks: yTicks, fmt: yFmt } = niceYTicks(ymin, ymax)

  // ---- grid
  out.push('<g class="grid" stroke-width="1">')
  for (const t of yTicks) {
    out.push(`<line x1="${n(px0)}" y1="${n(sy(t))}" x2="${n(px1)}" y2="${n(sy(t))}" stroke="${GRID}"/>`)
  }
  for (const t of xTicks) {
    out.push(`<line x1="${n(X(t))}" y1="${n(py0)}" x2="${n(X(t))}" y2="${n(py1)}" stroke="${GRID}"/>`)
  }
  out.push('</g>')

  // ---- axes: left and bottom lines, tick marks, labels
  out.push(
    `<g class="axes" stroke="${AXIS}" stroke-width="1">`,
    `<line x1="${n(px0)}" y1="${n(py1)}" x2="${n(px1)}" y2="${n(py1)}"/>`,
    `<line x1="${n(px0)}" y1="${n(py0)}" x2="${n(px0)}" y2="${n(py1)}"/>`,
  )
  for (const t of yTicks) out.push(`<line x1="${n(px0 - 4)}" y1="${n(sy(t))}" x2="${n(px0)}" y2="${n(sy(t))}"/>`)
  for (const t of xTicks) out.push(`<line x1="${n(X(t))}" y1="${n(py1)}" x2="${n(X(t))}" y2="${n(py1 + 4)}"/>`)
  out.push('</g>')

  out.push(`<g class="ticks" fill="${MUTED}">`)
  for (const t of yTicks) {
    out.push(text(px0 - 7, sy(t) + 4, yFmt(t), { anchor: 'end', fill: MUTED }))
  }
  // x tick labels: drop any that would collide with the previous one kept,
  // but always keep the last (the right end of the axis matters most).
  const labels = xTicks.map((t) => ({ x: X(t), s: fmtCount(t) }))
  const kept = []
  for (let i = 0; i < labels.length; i++) {
    const lab = labels[i]
    const half = textWidth(lab.s, SIZE.tick) / 2
    const prev = kept[kept.length - 1]
    if (prev && prev.x + textWidth(prev.s, SIZE.tick) / 2 + 4 > lab.x - half) {
      if (i === labels.length - 1) kept.pop()
      else continue
    }
    kept.push(lab)
  }
  for (const lab of kept) out.push(text(lab.x, py1 + 17, lab.s, { anchor: 'middle', fill: MUTED }))
  out.push('</g>')

  out.push(
    text((px0 + px1) / 2, py1 + 36, truncate(panel.xLabel, SIZE.axisLabel, px1 - px0), {
      size: SIZE.axisLabel,
      anchor: 'middle',
    }),
  )
  const ylx = 14
  const yly = (py0 + py1) / 2
  out.push(
    text(ylx, yly, truncate(panel.yLabel, SIZE.axisLabel, py1 - py0), {
      size: SIZE.axisLabel,
      anchor: 'middle',
      extra: ` transform="rotate(-90 ${n(ylx)} ${n(yly)})"`,
    }),
  )

  // ---- marker (e.g. drift): dashed vertical line, label at the top
  const m = panel.marker
  if (m && finite(m.x) && m.x >= xmin && m.x <= xmax) {
    const mx = X(m.x)
    const label = String(m.label ?? '')
    const lw = textWidth(label, SIZE.marker)
    const right = mx + 4 + lw <= px1 - 2
    out.push(
      '<g class="marker">',
      `<line x1="${n(mx)}" y1="${n(py0)}" x2="${n(mx)}" y2="${n(py1)}" stroke="${MUTED}" stroke-width="1.2" stroke-dasharray="5 4"/>`,
    )
    if (label) {
      const tx = right ? mx + 4 : mx - 4
      // white backing so the label stays legible over the curves
      out.push(
        `<rect x="${n(right ? tx - 2 : tx - lw - 2)}" y="${n(py0 + 2)}" width="${n(lw + 4)}" height="15" fill="#ffffff" fill-opacity="0.85"/>`,
        text(tx, py0 + 13, label, { size: SIZE.marker, anchor: right ? 'start' : 'end', fill: MUTED }),
      )
    }
    out.push('</g>')
  }

  // ---- data: all bands first, then lines, then point markers on top
  const bands = ['<g class="bands">']
  const lines = ['<g class="lines" fill="none" stroke-width="2" stroke-linejoin="round" stroke-linecap="round">']
  const dots = ['<g class="points" stroke="#ffffff" stroke-width="0.8">']
  // Many overlapping bands would stack into an opaque block: thin them out.
  const drawn = series.filter((s) => s.pts.length).length
  const bandOpacity = drawn <= 5 ? 0.15 : Math.max(0.05, 0.75 / drawn)
  for (const s of series) {
    if (!s.pts.length) continue
    const { color, dash } = styles.get(s.name)
    if (s.pts.some((p) => p.hi > p.lo)) {
      const upper = s.pts.map((p) => `${n(X(p.x))},${n(sy(p.hi))}`)
      const lower = s.pts.map((p) => `${n(X(p.x))},${n(sy(p.lo))}`).reverse()
      bands.push(`<polygon points="${upper.concat(lower).join(' ')}" fill="${color}" fill-opacity="${bandOpacity.toFixed(2)}" stroke="none"/>`)
    }
    if (s.pts.length > 1) {
      const d = dash ? ` stroke-dasharray="${dash}"` : ''
      const pts = s.pts.map((p) => `${n(X(p.x))},${n(sy(p.mean))}`).join(' ')
      lines.push(`<polyline points="${pts}" stroke="${color}"${d}/>`)
    }
    for (const p of s.pts) {
      const tip = `${s.name}: x=${fmtCount(p.x)}, mean=${sigFig(p.mean)} [${sigFig(p.lo)}, ${sigFig(p.hi)}]`
      dots.push(
        `<circle cx="${n(X(p.x))}" cy="${n(sy(p.mean))}" r="3" fill="${color}"><title>${esc(tip)}</title></circle>`,
      )
    }
  }
  out.push(bands.join('\n') + '\n</g>', lines.join('\n') + '\n</g>', dots.join('\n') + '\n</g>')

  out.push('</g>')
  return out.join('\n')
}

function renderLearningCurves(spec = {}) {
  const panels = Array.isArray(spec.panels) ? spec.panels : []
  const width = finite(spec.width) && spec.width >= 300 ? spec.width : L.width
  const columns = Math.max(1, Math.min(Math.floor(spec.columns) || 3, Math.max(1, panels.length)))
  const rows = Math.ceil(panels.length / columns)
  const styles = styleMap(panels)

  const parts = []
  let y = L.outer
  if (spec.title) {
    parts.push(
      text(width / 2, y + 15, truncate(spec.title, SIZE.title, width - 2 * L.outer), {
        size: SIZE.title,
        anchor: 'middle',
        weight: 'bold',
      }),
    )
    y += L.titleH
  }
  if (styles.size) {
    const legend = renderLegend(styles, width, y)
    parts.push(legend.svg)
    y += legend.height + L.legendGap
  }

  const panelW = (width - 2 * L.outer - (columns - 1) * L.colGap) / columns
  panels.forEach((p, i) => {
    const r = Math.floor(i / columns)
    const c = i % columns
    parts.push(renderPanel(p || {}, styles, L.outer + c * (panelW + L.colGap), y + r * (L.panelH + L.rowGap), panelW, L.panelH))
  })
  y += rows * L.panelH + Math.max(0, rows - 1) * L.rowGap + L.outer

  const height = Math.ceil(y)
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" fill="${INK}">`,
    `<title>${esc(spec.title || 'Learning curves')}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}

module.exports = { renderLearningCurves }
