'use strict'
// The NAPI-RS name of this process's platform (`linux-x64-gnu`,
// `darwin-arm64`, `win32-x64-msvc`, ...): the suffix of the binary and of
// the platform package the loader looks for. Used by binding.js for its
// missing-binary error and by scripts/pack-smoke.sh to pick the package to
// pack.

function platformName() {
  const { platform, arch } = process
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform !== 'linux') return `${platform}-${arch}`
  // glibc reports its version in the process report; musl does not.
  let glibc = true
  try {
    glibc = Boolean(process.report.getReport().header.glibcVersionRuntime)
  } catch {
    // no report: assume glibc, the common case
  }
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
}

module.exports = { platformName }
