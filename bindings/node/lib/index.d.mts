// Typings of the ESM entry (lib/index.mjs): the same API as the CommonJS entry.
export * from './index.js'
import * as zk from './index.js'
export default zk
