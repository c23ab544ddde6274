'use strict'
// Internal hooks between the client, its watches and the recipes (not part of the API).
module.exports = {
  kNative: Symbol('zk.native'),
  kSubscribe: Symbol('zk.subscribe'),
  kUnsubscribe: Symbol('zk.unsubscribe'),
  kCall: Symbol('zk.call'),
  kReport: Symbol('zk.report'),
  kConnected: Symbol('zk.connected'),
  kHold: Symbol('zk.hold'),
  kRemoveWatch: Symbol('zk.removeWatch'),
  kDeliverEnd: Symbol('zk.deliverEnd')
}
