// Top frames by self time of V8 .cpuprofile files (from `node --cpu-prof`): the figures in docs/ledger-profile.md.
//   npx node bench/lib/profile-top.ts <file.cpuprofile>... [--top 25] [--inclusive] [--folders]
//   --inclusive: src/ functions with their callees; --folders: src/ folders (dag, market, rpc, ...) with their callees,
//   and the samples with no frame of ours (libp2p, LevelDB, GC): which part of the node the time goes to
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, inclusive: { type: 'boolean', default: false }, folders: { type: 'boolean', default: false } } })
const inclusive = values.inclusive || values.folders
for (const file of positionals) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    total += dt
    const n = byId.get(id)
    if (n === undefined) return
    if (!inclusive || n.callFrame.functionName === '(idle)') { const key = keyOf(n); self.set(key, (self.get(key) ?? 0) + dt); return }
    // --inclusive / --folders: time of each src/ function (or folder) with its callees, once per sample however deep
    const seen = new Set<string>()
    for (let p: ProfileNode | undefined = n; p !== undefined; p = byId.get(parent.get(p.id) ?? -1)) {
      if (!isOwnSource(p.callFrame.url)) continue
      const key = values.folders ? `src/${/\/src\/([^/]+)\//.exec(p.callFrame.url)?.[1] ?? ''}` : keyOf(p)
      if (seen.has(key)) continue
      seen.add(key)
      self.set(key, (self.get(key) ?? 0) + dt)
    }
    if (values.folders && seen.size === 0) self.set('(no frame of ours)', (self.get('(no frame of ours)') ?? 0) + dt)
  })
  const idle = self.get('(idle)') ?? 0
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(100 * idle / total).toFixed(1)}% idle\n`)
  for (const [k, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${k}\n`)
  }
}

function keyOf (n: ProfileNode): string {
  const f = n.callFrame
  const where = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}`
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`
}

/** This repository's src/, not a dependency's (libp2p packages have src/ folders too). */
function isOwnSource (url: string): boolean {
  return url.includes('/src/') && !url.includes('/node_modules/')
}
