// Loaded with `--import` into a harmonyd process: appends the URL of every module it loads to the file named by
// HARMONY_MODULE_TRACE (test/unit/cli-lazy.test.ts checks which parts of the code a command pays for).
import { appendFileSync } from 'node:fs'
import { registerHooks } from 'node:module'

const out = process.env.HARMONY_MODULE_TRACE
if (out !== undefined) {
  registerHooks({
    load (url, context, next) {
      appendFileSync(out, `${url}\n`)
      return next(url, context)
    }
  })
}
