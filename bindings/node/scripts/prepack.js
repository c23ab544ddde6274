#!/usr/bin/env node
// `npm pack` hook: the tarball must carry a prebuilt addon (build it first: npm run build),
// without its debug info (35 MB -> a few MB).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const nativeDir = path.resolve(__dirname, '..', 'native')
const addons = fs.readdirSync(nativeDir).filter((f) => f.endsWith('.node'))
if (addons.length === 0) {
  console.error('zk-client: no prebuilt addon in native/: run `npm run build` before `npm pack`')
  process.exit(1)
}
for (const addon of addons) {
  const file = path.join(nativeDir, addon)
  const stripped = spawnSync('strip', ['--strip-debug', file], { stdio: 'inherit' })
  if (stripped.error || stripped.status !== 0) {
    console.error(`zk-client: could not strip ${addon}; packing it with its debug info`)
  }
}
