// The Node HA controller against a real zk-server: Hadoop's exit codes, `--format`, and
// failovers between two controllers guarding dummy services (a health file each; the
// services' transitions and the fencing are recorded in one ledger), so that a new active
// appears only after the old one was fenced. Run by bindings/node/scripts/test:
//
//   node --test examples/ha/node/controller.test.mjs

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, test } from 'node:test'

import { freePort, packagePath, startServer, waitFor } from '../../../bindings/node/test/support.mjs'

const CONTROLLER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ha_controller.js')
// The controller's require('zk-client') finds this checkout's package.
const env = { ...process.env, NODE_PATH: packagePath() }

/** A controller process and its output lines. */
class Controller {
  constructor (argv, { stdin = 'ignore' } = {}) {
    this.lines = []
    this.child = spawn(process.execPath, [CONTROLLER, ...argv], { env, stdio: [stdin, 'pipe', 'pipe'] })
    this.stderr = ''
    this.child.stderr.on('data', (chunk) => { this.stderr += chunk })
    let rest = ''
    this.child.stdout.on('data', (chunk) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop()
      this.lines.push(...parts)
    })
    this.exited = once(this.child, 'exit').then(([code]) => code)
  }

  async waitFor (line) {
    await waitFor(() => this.lines.includes(line), `${JSON.stringify(line)} in ${JSON.stringify(this.lines)} (stderr: ${this.stderr})`)
  }

  kill (signal = 'SIGKILL') { this.child.kill(signal) }
}

let server
const running = new Set()
before(async () => { server = await startServer() })
after(async () => {
  for (const controller of running) controller.kill()
  await server?.stop()
})

function start (nameservice, args, options) {
  const controller = new Controller(['--zk', server.address, '--nameservice', nameservice, ...args], options)
  running.add(controller)
  return controller
}

/** Runs a controller to its end: `[exit code, lines]`. */
async function run (nameservice, args, options) {
  const controller = start(nameservice, args, options)
  return [await controller.exited, controller.lines]
}

test('Hadoop\'s exit codes and --format', async () => {
  const ns = `codes-${process.pid}`
  const running = ['--id', 'nn1', '--check-cmd', 'true', '--fence', 'shell(true)']
  let [code, lines] = await run(ns, running)
  assert.equal(code, 3, 'no parent znode')
  assert.deepEqual(lines, [`[nn1] fatal /hadoop-ha/${ns} does not exist: run --format`])
  ;[code, lines] = await run(ns, ['--format'])
  assert.equal(code, 0)
  assert.deepEqual(lines, [`[zkfc] exit formatted /hadoop-ha/${ns}`])
  assert.equal((await run(ns, ['--format', '--non-interactive']))[0], 2)
  // Interactive: a "no" (here: end of input) refuses, a "Y" formats.
  ;[code, lines] = await run(ns, ['--format'])
  assert.equal(code, 2)
  assert.deepEqual(lines, [`[zkfc] fatal /hadoop-ha/${ns} exists: not formatted (--force)`])
  const asked = start(ns, ['--format'], { stdin: 'pipe' })
  asked.child.stdin.end('Y\n')
  assert.equal(await asked.exited, 0)
  assert.equal((await run(ns, ['--format', '--force']))[0], 0)
  ;[code, lines] = await run(ns, ['--id', 'nn1', '--check-cmd', 'true'])
  assert.equal(code, 4)
  assert.deepEqual(lines, ['[nn1] fatal no fencing method (--fence)'])
  assert.equal((await run(ns, ['--id', 'nn1']))[0], 1, 'no health check')
  ;[code, lines] = await run(ns, ['--bogus'])
  assert.equal(code, 1)
  assert.deepEqual(lines, ['[zkfc] fatal unknown argument --bogus'])
  assert.equal((await run(ns, ['--id', 'nn1', '--check-cmd', 'true', '--check-interval-ms', 'soon']))[0], 1)
  const nowhere = `127.0.0.1:${await freePort()}`
  const unreachable = (args) => new Controller(['--zk', nowhere, '--nameservice', ns, '--session-timeout-ms', '1000', ...args]).exited
  assert.equal(await unreachable([]), 1, 'usage is checked first')
  assert.equal(await unreachable(['--format']), 6, 'no ZooKeeper')
})

test('failover fences the old active first', async () => {
  const ns = `ns1-${process.pid}`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zk-node-ha-'))
  try {
    assert.equal((await run(ns, ['--format']))[0], 0)
    const ledger = path.join(dir, 'ledger')
    const guard = (id) => start(ns, [
      '--id', id, '--host', '127.0.0.1', '--port', '8020',
      '--session-timeout-ms', '2000', '--check-interval-ms', '100',
      '--check-cmd', `test -f ${dir}/${id}.healthy`,
      '--on-active', `echo '${id} active' >> ${ledger}`,
      '--on-standby', `echo '${id} standby' >> ${ledger}`,
      // Hadoop's method list: the first fails, the second fences.
      '--fence', 'shell(false)',
      '--fence', `shell(echo "fence $target_namenodeid at $target_address by ${id}" >> ${ledger})`
    ])
    const read = () => fs.existsSync(ledger) ? fs.readFileSync(ledger, 'utf8').split('\n').filter(Boolean) : []
    const expectLedger = async (expected) => {
      await waitFor(() => read().length >= expected.length, `the ledger ${JSON.stringify(expected)}`)
      assert.deepEqual(read(), expected)
    }

    fs.writeFileSync(path.join(dir, 'nn1.healthy'), '')
    const nn1 = guard('nn1')
    await nn1.waitFor('[nn1] active')
    fs.writeFileSync(path.join(dir, 'nn2.healthy'), '')
    const nn2 = guard('nn2')
    await nn2.waitFor('[nn2] standby')
    await expectLedger(['nn1 active', 'nn2 standby'])
    assert.deepEqual(nn1.lines, ['[nn1] health Initializing', '[nn1] health Healthy', '[nn1] active'])

    // nn1's service turns unhealthy: nn1 quits needing fencing; nn2 fences it, then leads.
    fs.rmSync(path.join(dir, 'nn1.healthy'))
    await nn1.waitFor('[nn1] health Unhealthy')
    await nn2.waitFor('[nn2] active')
    assert.ok(nn2.lines.includes('[nn2] fence nn1 ok'), nn2.lines)
    await expectLedger(['nn1 active', 'nn2 standby', 'fence nn1 at 127.0.0.1:8020 by nn2', 'nn2 active'])

    // nn1 is healthy again: standby. Then nn2's controller dies (SIGKILL): once its session
    // expires nn1 fences nn2 and leads.
    fs.writeFileSync(path.join(dir, 'nn1.healthy'), '')
    await nn1.waitFor('[nn1] standby')
    nn2.kill()
    await nn1.waitFor('[nn1] active')
    await expectLedger(['nn1 active', 'nn2 standby', 'fence nn1 at 127.0.0.1:8020 by nn2', 'nn2 active',
      'nn1 standby', 'fence nn2 at 127.0.0.1:8020 by nn1', 'nn1 active'])

    // SIGTERM: a clean exit (0), leaving the breadcrumb for the next active to fence.
    nn1.kill('SIGTERM')
    assert.equal(await nn1.exited, 0, nn1.lines)
    assert.equal(nn1.lines.at(-1), '[nn1] exit on SIGTERM')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
