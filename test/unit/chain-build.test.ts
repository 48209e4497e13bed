import { readFileSync } from 'node:fs'
import test from 'ava'
import { compileArtifacts } from '../../contracts/build.ts'

// The build is reproducible: compiling the sources now gives byte-identical artifacts to the committed ones
// (built earlier, in another process). If this fails after a contract change, run npm run build:contracts.
test('compiling the contracts reproduces the committed artifacts byte for byte', (t) => {
  const artifacts = compileArtifacts()
  t.deepEqual([...artifacts.keys()].sort(), ['AGC.json', 'HarmonySettlement.json', 'HarmonyStaking.json'])
  for (const [file, text] of artifacts) {
    const committed = readFileSync(new URL(`../../contracts/artifacts/${file}`, import.meta.url), 'utf8')
    t.true(committed === text, `${file} differs from a fresh build`)
  }
})
