#!/usr/bin/env node
import { enableCompileCache } from 'node:module'

// V8's on-disk code cache for our modules (os.tmpdir()/node-compile-cache unless NODE_COMPILE_CACHE names another;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off): every CLI call and daemon start compiles ~300 modules, and a warm
// cache takes a start from ~1.3 s to ~0.8 s on a 2-core machine. It must be on before the CLI's modules load.
enableCompileCache()
const { runCli } = await import('../src/cli/index.ts')
await runCli(process.argv.slice(2))
