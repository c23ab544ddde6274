'use strict'
// The addon: the prebuilt `zk.<platform>.node` next to the generated loader, or the one
// `npm install` built from source (scripts/install.js).
const binding = require('../native/binding.js')
module.exports = binding

// The functions the addon calls to build errors and results (once per environment: each
// worker thread loads this module anew).
const { makeError } = require('./errors')

function makeStat (czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid) {
  return { czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid }
}

// Znode data up to 64 KiB comes through this buffer: the addon copies it in, and it is
// copied out into a Buffer from Node's pool (no backing store of its own per reply).
const scratch = Buffer.allocUnsafeSlow(64 * 1024)

function makeBytes (length) {
  const bytes = Buffer.allocUnsafe(length)
  scratch.copy(bytes, 0, 0, length)
  return bytes
}

function makeData (data, czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid) {
  return {
    data: typeof data === 'number' ? makeBytes(data) : data,
    stat: { czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid }
  }
}

binding.setFactories(makeError, makeStat, makeData, makeBytes, scratch)
