#!/usr/bin/env node
// `npm install` hook. A packed tarball carries the prebuilt addon: if it loads, there is
// nothing to do (no Rust toolchain needed). Otherwise (installing from the source tree,
// `npm install ./bindings/node`, or a platform without a prebuilt addon) the addon is built
// from source with cargo and copied next to the generated loader.
'use strict'

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const nativeDir = path.join(root, 'native')

function loads () {
  try {
    require(path.join(nativeDir, 'binding.js')).errorCodes()
    return true
  } catch (error) {
    if (process.env.ZK_NODE_INSTALL_DEBUG) console.error(error)
    return false
  }
}

/** The addon's file name for this platform, as the generated loader looks for it. */
function addonName () {
  const { platform, arch } = process
  if (platform === 'linux') {
    const report = process.report?.getReport?.()
    const gnu = report?.header?.glibcVersionRuntime !== undefined
    return `zk.linux-${arch}-${gnu ? 'gnu' : 'musl'}.node`
  }
  if (platform === 'win32') return `zk.win32-${arch}-msvc.node`
  return `zk.${platform}-${arch}.node`
}

function findCargo () {
  const candidates = ['cargo', path.join(os.homedir(), '.cargo', 'bin', 'cargo')]
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['--version'], { stdio: 'ignore' })
    if (probe.status === 0) return candidate
  }
  return null
}

/** The host's target triple, so the build shares `napi build`'s target directory. */
function hostTriple (cargo) {
  const rustc = path.join(path.dirname(cargo), 'rustc')
  for (const candidate of [rustc, 'rustc']) {
    const probe = spawnSync(candidate, ['-vV'], { encoding: 'utf8' })
    const host = probe.status === 0 && probe.stdout.match(/^host: (\S+)$/m)
    if (host) return host[1]
  }
  return null
}

function build () {
  const cargo = findCargo()
  const manifest = path.join(root, 'Cargo.toml')
  if (cargo === null || !fs.existsSync(manifest)) {
    const why = cargo === null ? 'no Rust toolchain (cargo) was found' : 'the Rust sources are not in this package'
    console.error(`zk-client: there is no prebuilt addon for ${process.platform}-${process.arch} and ${why}.\n` +
      'Install a packed tarball built for this platform, or install from a checkout of the\n' +
      'zk repository with Rust installed (https://rustup.rs): npm install ./bindings/node')
    process.exit(1)
  }
  console.error('zk-client: building the addon from source (cargo build --release)...')
  const triple = hostTriple(cargo)
  const output = execFileSync(cargo, [
    'build', '--release', '--lib', '--manifest-path', manifest, '--message-format=json-render-diagnostics',
    ...(triple === null ? [] : ['--target', triple])
  ], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 }).toString()
  let library = null
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue
    const message = JSON.parse(line)
    if (message.reason === 'compiler-artifact' && message.target?.name === 'zk_node') {
      library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) ?? library
    }
  }
  if (library === null) throw new Error('cargo did not report the zk_node library')
  fs.copyFileSync(library, path.join(nativeDir, addonName()))
}

// ZK_NODE_BUILD_FROM_SOURCE=1 builds even when an addon is there (the test command uses it).
if (process.env.ZK_NODE_BUILD_FROM_SOURCE === '1' || !loads()) {
  build()
  if (!loads()) {
    console.error('zk-client: the addon was built but does not load (set ZK_NODE_INSTALL_DEBUG=1 for the error)')
    process.exit(1)
  }
}
