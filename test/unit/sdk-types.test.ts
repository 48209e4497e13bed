import test from 'ava'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FILE = fileURLToPath(new URL('../types/sdk-types.ts', import.meta.url))

test('the SDK is typed end to end from the shared definitions (test/types/sdk-types.ts compiles clean)', (t) => {
  const configPath = ts.findConfigFile(ROOT, ts.sys.fileExists, 'tsconfig.json')
  if (configPath === undefined) throw new Error('tsconfig.json not found')
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, ROOT)
  const program = ts.createProgram([FILE], config.options)
  const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(FILE))
  const messages = diagnostics.map((d) => `${d.start === undefined ? '' : `${(d.file?.getLineAndCharacterOfPosition(d.start).line ?? 0) + 1}: `}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
  t.deepEqual(messages, [])
  // the checks cannot pass vacuously: the file must hold expectations and expected errors
  const text = program.getSourceFile(FILE)?.text ?? ''
  t.true((text.match(/@ts-expect-error/g) ?? []).length >= 7)
  t.true((text.match(/expectType</g) ?? []).length >= 12)
})
