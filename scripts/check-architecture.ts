/**
 * Checks the house rules of docs/architecture.md on src/: each folder (floor) imports only the floors below it,
 * and no import cycle exists between files. Run: `npx node scripts/check-architecture.ts` (exit 1 on a violation);
 * test/unit/architecture.test.ts runs the same check in the suite.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Floor of each top-level folder of src/: a folder may import only folders on a lower floor (and itself). */
export const FLOORS: Readonly<Record<string, number>> = {
  core: 0,
  network: 1,
  compute: 1,
  rpc: 1,
  chain: 2,
  dag: 2,
  bridge: 3,
  market: 3,
  webhooks: 3,
  api: 4,
  sdk: 5,
  node: 6,
  cli: 7
}

export interface ArchitectureReport {
  /** `from -> to` file pairs whose import runs up or across a floor. */
  upward: string[]
  /** Files that import each other in a loop, one entry per cycle found. */
  cycles: string[][]
  /** Top-level folders of src/ missing from FLOORS. */
  unknownFolders: string[]
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

function listTs (dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listTs(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Relative imports of one file, resolved to repository paths; `import type` counts too (a type is a dependency). */
function importsOf (file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(IMPORT)) out.push(resolve(dirname(file), m[1] ?? m[2]))
  return out
}

export function checkArchitecture (srcDir: string): ArchitectureReport {
  const files = listTs(srcDir)
  const floorOf = (file: string): string => relative(srcDir, file).split('/')[0]
  const graph = new Map(files.map(f => [f, importsOf(f).filter(i => i.startsWith(srcDir))]))
  const upward: string[] = []
  const unknownFolders = [...new Set(files.map(floorOf).filter(f => f.endsWith('.ts') === false && FLOORS[f] === undefined))]
  for (const [file, deps] of graph) {
    const from = floorOf(file)
    for (const dep of deps) {
      const to = floorOf(dep)
      if (to === from || FLOORS[from] === undefined || FLOORS[to] === undefined) continue
      if (FLOORS[to] >= FLOORS[from]) upward.push(`${relative(srcDir, file)} -> ${relative(srcDir, dep)}`)
    }
  }
  // Tarjan's strongly connected components: every component of more than one file is a cycle
  const cycles: string[][] = []
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  let next = 0
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++
    stack.push(v); onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)) } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do { w = stack.pop()!; onStack.delete(w); component.push(relative(srcDir, w)) } while (w !== v)
      if (component.length > 1) cycles.push(component.sort())
    }
  }
  for (const f of files) if (!index.has(f)) visit(f)
  return { upward, cycles, unknownFolders }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src')
  const report = checkArchitecture(src)
  for (const u of report.upward) console.log(`upward import: ${u}`)
  for (const c of report.cycles) console.log(`cycle: ${c.join(' <-> ')}`)
  for (const f of report.unknownFolders) console.log(`folder without a floor: src/${f}`)
  const bad = report.upward.length + report.cycles.length + report.unknownFolders.length
  console.log(bad === 0 ? `src/: ${Object.keys(FLOORS).length} floors, no upward import, no cycle` : `${bad} violation(s)`)
  process.exitCode = bad === 0 ? 0 : 1
}
