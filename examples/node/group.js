'use strict'
// Group membership: members come and go. Each member is its own process holding an
// ephemeral node /examples/group/<name>; an observer follows the group with a children
// watch. A member that leaves (closes its session) is gone at once; a member that is
// killed (SIGKILL: nothing is closed) is gone once its session times out.
//
//     node group.js 127.0.0.1:2181
//
// (It starts its members itself: `node group.js HOSTS member NAME` is one member.)

const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { Group } = require('zk-client')
const { connect, run } = require('./common')

const GROUP = '/examples/group'
const MEMBER_SESSION = 3000

/** One member: joins, then stays until its stdin closes (or it is killed). */
async function member (hosts, name) {
  const client = await connect(hosts, MEMBER_SESSION)
  const me = await new Group(client, GROUP).join(name, Buffer.from(`pid ${process.pid}`))
  console.log(`${name} joined`)
  process.stdin.resume()
  await once(process.stdin, 'end')
  await me.leave()
  await client.close()
  console.log(`${name} left`)
  process.exit(0)
}

/** Follows the group with a children watch until `done(members)` holds (or 30 s pass). */
async function waitMembers (observer, done) {
  const deadline = Date.now() + 30000
  for (;;) {
    const { children, changed } = await observer.getChildrenWatched(GROUP)
    const members = children.sort()
    console.log(`members: ${JSON.stringify(members)}`)
    if (done(members)) return true
    const left = deadline - Date.now()
    const timeout = new Promise((resolve) => setTimeout(resolve, Math.max(left, 0), 'timeout'))
    if ((await Promise.race([changed, timeout])) === 'timeout') return false
  }
}

if (process.argv[3] === 'member') {
  member(process.argv[2], process.argv[4])
} else {
  run('group', async (hosts) => {
    const observer = await connect(hosts)
    await observer.mkdirp(GROUP)
    const names = ['member-a', 'member-b', 'member-c']
    const members = names.map((name) => spawn(process.execPath, [__filename, hosts, 'member', name],
      { stdio: ['pipe', 'inherit', 'inherit'] }))
    const all = await waitMembers(observer, (m) => names.every((n) => m.includes(n)))

    // member-c leaves: it closes its session when its stdin closes.
    members[2].stdin.end()
    const left = await waitMembers(observer, (m) => !m.includes('member-c'))
    if (members[2].exitCode === null) await once(members[2], 'exit')

    // member-b is killed: its node stays until the server expires its session.
    const killedAt = Date.now()
    members[1].kill('SIGKILL')
    const gone = await waitMembers(observer, (m) => !m.includes('member-b'))
    const after = Date.now() - killedAt
    console.log(`member-b was killed: gone after ${after} ms (session timeout ${MEMBER_SESSION} ms)`)

    members[0].stdin.end()
    if (members[0].exitCode === null) await once(members[0], 'exit')
    await observer.close()
    // Expiry takes the session timeout (and at most a few server ticks more).
    const inTime = after <= MEMBER_SESSION + 5000
    return [all && left && gone && inTime, 'members joined, left and were expired']
  })
}
