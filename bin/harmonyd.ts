#!/usr/bin/env node
import { runCli } from '../src/cli/index.ts'

await runCli(process.argv.slice(2))
