import { readFile } from 'node:fs/promises'
interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }
const [file, fn, depthS] = process.argv.slice(2)
const depth = Number(depthS ?? 6)
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map(n => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const stacks = new Map<string, number>()
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  if (byId.get(id)?.callFrame.functionName !== fn) return
  const parts: string[] = []
  for (let n = parent.get(id), d = 0; n !== undefined && d < depth; n = parent.get(n), d++) {
    const cf = byId.get(n)!.callFrame
    parts.push(`${cf.functionName}@${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`)
  }
  const k = parts.join(' < ')
  stacks.set(k, (stacks.get(k) ?? 0) + dt)
})
for (const [k, us] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`)
