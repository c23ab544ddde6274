// `await using` (explicit resource management) with the package's disposable handles:
// test/types/using.mts, compiled by tsc (Node 20 cannot parse `using` yet) and run.

import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { after, before, it } from 'node:test'

import { PACKAGE_ROOT, startServer } from './support.mjs'

let server
before(async () => { server = await startServer() })
after(async () => { await server?.stop() })

it('await using releases leases, leaves elections and groups, closes watches', () => {
  const tsc = path.join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', path.join(PACKAGE_ROOT, 'tsconfig.using.json')], { stdio: 'inherit' })
  const run = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'build', 'using.mjs'), server.address], {
    encoding: 'utf8', timeout: 60_000
  })
  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout.trim(), 'inside 3 after 0 0')
})
