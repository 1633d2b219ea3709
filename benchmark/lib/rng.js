'use strict'
// Small seeded PRNG so that the synthetic dataset is identical on every
// machine and every run (Math.random() cannot be seeded).

// mulberry32: 32-bit state, period 2^32, fast and good enough for data
// generation (we draw ~15M numbers for the default 100k x 128 case).
function mulberry32(seed) {
  let a = seed >>> 0
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// splitmix32-style hash, used to derive independent stream seeds from one
// user seed (base vectors and queries must come from different streams).
function deriveSeed(seed, stream) {
  let z = (seed + Math.imul(stream + 1, 0x9e3779b9)) >>> 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
  return (z ^ (z >>> 16)) >>> 0
}

class Rng {
  constructor(seed) {
    this.uniform = mulberry32(seed)
    this.spare = NaN // Box-Muller yields two normals per draw; keep the second
  }

  // Standard normal via Box-Muller.
  gaussian() {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare
      this.spare = NaN
      return s
    }
    const u1 = 1 - this.uniform() // (0, 1]: avoids log(0)
    const u2 = this.uniform()
    const r = Math.sqrt(-2 * Math.log(u1))
    this.spare = r * Math.sin(2 * Math.PI * u2)
    return r * Math.cos(2 * Math.PI * u2)
  }
}

// A shuffled copy of `items` (Fisher-Yates), `random` a () => [0, 1) source.
function shuffle(items, random) {
  const out = Array.from(items)
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

module.exports = { Rng, deriveSeed, mulberry32, shuffle }
