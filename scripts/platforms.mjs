// Keeps the platform packages under npm/ and the main package's
// optionalDependencies in step with package.json: its version, license,
// description and engines, and its `napi.targets`. This is what
// `napi pre-publish` does at publish time, done here and committed instead,
// so the main package that `npm pack` makes is the one the repository shows.
//
//   node scripts/platforms.mjs          # writes what is out of step
//   node scripts/platforms.mjs --check  # only reports it (exit 1); npm test runs this
//
// A new target: add its triple to `napi.targets`, run
// `npx napi create-npm-dirs` (which lays out npm/<abi>/), then this script.
import { parseTriple } from '@napi-rs/cli'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const check = process.argv.includes('--check')

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))
const stringify = (value) => JSON.stringify(value, null, 2) + '\n'

const main = readJson(join(root, 'package.json'))
const problems = []
const writes = new Map()

// Sets `object[key] = value`, noting the change if it is one.
function sync(where, object, key, value) {
  if (JSON.stringify(object[key]) !== JSON.stringify(value)) {
    problems.push(`${where}: ${key} is ${JSON.stringify(object[key])}, should be ${JSON.stringify(value)}`)
    object[key] = value
    return true
  }
  return false
}

const optionalDependencies = {}
for (const triple of main.napi.targets) {
  const { platformArchABI: abi, platform, arch, abi: libcAbi } = parseTriple(triple)
  const file = join(root, 'npm', abi, 'package.json')
  if (!existsSync(file)) {
    problems.push(`npm/${abi}/package.json is missing: run \`npx napi create-npm-dirs\``)
    continue
  }
  const platformPackage = readJson(file)
  const where = `npm/${abi}/package.json`
  let changed = false
  changed = sync(where, platformPackage, 'name', `${main.name}-${abi}`) || changed
  for (const key of ['version', 'license', 'description']) {
    changed = sync(where, platformPackage, key, main[key]) || changed
  }
  changed = sync(where, platformPackage, 'cpu', [arch]) || changed
  if (platform === 'wasi') {
    // The WASI package runs on any OS; its engines are emnapi's (WASI
    // threads need Node >= 20.19 / 22.13), as `napi create-npm-dirs` wrote them.
    changed = sync(where, platformPackage, 'main', `${main.napi.binaryName}.wasi.cjs`) || changed
  } else {
    changed = sync(where, platformPackage, 'engines', main.engines) || changed
    changed = sync(where, platformPackage, 'os', [platform]) || changed
    changed = sync(where, platformPackage, 'main', `${main.napi.binaryName}.${abi}.node`) || changed
    changed = sync(where, platformPackage, 'files', [`${main.napi.binaryName}.${abi}.node`]) || changed
    if (platform === 'linux') {
      changed = sync(where, platformPackage, 'libc', [libcAbi === 'musl' ? 'musl' : 'glibc']) || changed
    }
  }
  if (changed) writes.set(file, platformPackage)
  optionalDependencies[platformPackage.name] = main.version
}

// Sorted by name, as npm writes dependency lists.
const sortedOptional = Object.fromEntries(Object.entries(optionalDependencies).sort(([a], [b]) => a.localeCompare(b)))
if (sync('package.json', main, 'optionalDependencies', sortedOptional)) {
  writes.set(join(root, 'package.json'), main)
}

if (problems.length === 0) {
  console.log(`platform packages in step: ${main.napi.targets.length} targets at ${main.version}`)
} else if (check) {
  console.error(`platform packages out of step (run \`node scripts/platforms.mjs\`):\n  ${problems.join('\n  ')}`)
  process.exit(1)
} else {
  for (const [file, value] of writes) writeFileSync(file, stringify(value))
  console.log(`updated ${writes.size} package.json files:\n  ${problems.join('\n  ')}`)
}
