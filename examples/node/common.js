'use strict'
// What every example shares: where the ensemble is, how to connect, and the verdict line.
// Each other file here is one of the classic ZooKeeper use cases (README.md).

const { Client } = require('zk-client')

/** The connect string: the first argument, else `$ZK_HOSTS`, else `127.0.0.1:2181`. */
function hosts () {
  return process.argv[2] ?? process.env.ZK_HOSTS ?? '127.0.0.1:2181'
}

/** A new session (each call is another client, as another process would be). */
async function connect (hosts, sessionTimeout = 10000) {
  const client = new Client(hosts, { sessionTimeout })
  try {
    await client.connect()
  } catch (error) {
    console.error(`cannot connect to ${hosts}: ${error.message}`)
    process.exit(2)
  }
  return client
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `main(hosts)`, which resolves `[ok, detail]`; prints `<name>: ok (detail)` or FAILED and exits 0 or 1. */
function run (name, main) {
  // An idle client does not keep Node running (like an unref'd socket): while an example
  // only waits for watches, this timer does, until the verdict exits.
  setInterval(() => {}, 1 << 30)
  main(hosts()).then(([ok, detail]) => verdict(name, ok, detail), (error) => {
    console.error(error)
    verdict(name, false, error.message)
  })
}

function verdict (name, ok, detail) {
  console.log(`${name}: ${ok ? 'ok' : 'FAILED'} (${detail})`)
  process.exit(ok ? 0 : 1)
}

module.exports = { hosts, connect, sleep, run, verdict }
