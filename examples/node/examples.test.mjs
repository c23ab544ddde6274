// Every example in this folder run against a real zk-server, checked on its exit status,
// its verdict line and the lines that show the property (unique names, every reload, the
// killed member's expiry, one wake-up per leader change, queue order, barrier phases).
// Run by bindings/node/scripts/test:
//
//   node --test examples/node/examples.test.mjs

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, test } from 'node:test'

import { packagePath, startServer } from '../../bindings/node/test/support.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
// The examples' require('zk-client') finds this checkout's package.
const env = { ...process.env, NODE_PATH: packagePath() }

let server
before(async () => { server = await startServer() })
after(() => server?.stop())

/** Runs example `name`: its output lines, after checking that it succeeded with its verdict. */
function example (name) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(HERE, `${name}.js`), server.address], { env, timeout: 120_000 }, (error, stdout, stderr) => {
      const lines = stdout.split('\n').filter(Boolean)
      if (error) reject(new Error(`${name} failed (${error.code ?? error.signal}):\n${stdout}${stderr}`))
      else if (!lines.some((l) => l.startsWith(`${name}: ok`))) reject(new Error(`${name} printed no verdict:\n${stdout}`))
      else resolve(lines)
    })
  })
}

const positions = (lines, pred) => lines.flatMap((line, i) => (pred(line) ? [i] : []))

test('naming: 20 unique names from sequential nodes', async () => {
  const names = (await example('naming')).map((l) => l.split(' got ')[1]).filter(Boolean)
  assert.equal(names.length, 20)
  assert.equal(new Set(names).size, 20, 'names are unique')
  assert.ok(names.every((n) => n.startsWith('/examples/naming/job-')))
})

test('config: every reader reloads on each of the 5 changes and ends on the last', async () => {
  const lines = await example('config')
  for (let reader = 0; reader < 3; reader++) {
    const reloads = lines.filter((l) => l.startsWith(`reader ${reader} reloaded`))
    assert.equal(reloads.length, 5, lines.join('\n'))
    assert.match(reloads[4], /version=5/)
  }
})

test('group: members join, one leaves, a killed one expires', async () => {
  const lines = await example('group')
  for (const member of ['member-a', 'member-b', 'member-c']) assert.ok(lines.includes(`${member} joined`), lines.join('\n'))
  assert.ok(lines.includes('member-c left'))
  assert.ok(lines.some((l) => l.startsWith('member-b was killed: gone after')))
})

test('election: each contender watches only its predecessor; one wake-up per change of leader', async () => {
  const lines = await example('election')
  for (let round = 0; round < 4; round++) assert.ok(lines.some((l) => l.startsWith(`round ${round}: contender`)), lines.join('\n'))
  const watches = positions(lines, (l) => l.includes(' watches n_'))
  const woke = positions(lines, (l) => l.includes(' woke up: '))
  assert.deepEqual([watches.length, woke.length], [3, 3], lines.join('\n'))
  for (const line of lines) {
    const [who, rest] = line.split(' woke up: ')
    if (rest === undefined) continue
    const watched = ` watches ${rest.replace(/ is gone$/, '')}`
    assert.ok(lines.some((l) => l.startsWith(who) && l.endsWith(watched)), `${who} woke for a node it did not watch:\n${lines.join('\n')}`)
  }
})

test('lock: handed over in queue order, no lost update', async () => {
  const got = (await example('lock')).filter((l) => l.includes(' got the lock'))
  assert.equal(got.length, 4)
  got.forEach((line, i) => assert.ok(line.startsWith(`worker ${i} `), `queue order: ${got}`))
})

test('barrier: nobody starts before all arrived, nobody leaves before all finished', async () => {
  const lines = await example('barrier')
  const arrived = positions(lines, (l) => l.endsWith(' arrives'))
  const working = positions(lines, (l) => l.endsWith(' starts working'))
  const finished = positions(lines, (l) => l.endsWith(' finished, leaving'))
  const left = positions(lines, (l) => l.endsWith(' left'))
  assert.deepEqual([arrived.length, working.length, left.length], [4, 4, 4])
  assert.ok(Math.max(...arrived) < Math.min(...working), lines.join('\n'))
  assert.ok(Math.max(...finished) < Math.min(...left), lines.join('\n'))
})

test('queue: producer and consumer processes; 20 items each taken once', async () => {
  const taken = (await example('queue')).filter((l) => l.includes(' took p'))
  assert.equal(taken.length, 20, taken.join('\n'))
})
