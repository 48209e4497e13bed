// Inclusive share of sampled time per src/ folder (every folder on a sample's stack counted once), and the samples
// with no src/ frame at all (libp2p, LevelDB, GC, idle): which subsystem a node's CPU goes to.
//   npx node bench/lib/profile-dirs.ts <file.cpuprofile>...
import { readFile } from 'node:fs/promises'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const folderOf = (url: string): string | undefined => /\/src\/([a-z-]+)\//.exec(url)?.[1]
  const share = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    total += dt
    const leaf = byId.get(id)
    if (leaf?.callFrame.functionName === '(idle)') { share.set('(idle)', (share.get('(idle)') ?? 0) + dt); return }
    const folders = new Set<string>()
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = folderOf(byId.get(n)?.callFrame.url ?? '')
      if (f !== undefined) folders.add(f)
    }
    if (folders.size === 0) folders.add('(no src frame)')
    for (const f of folders) share.set(f, (share.get(f) ?? 0) + dt)
  })
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`)
  for (const [f, us] of [...share].sort((a, b) => b[1] - a[1])) console.log(`  ${(us / 1000).toFixed(0).padStart(8)} ms  ${(100 * us / total).toFixed(1).padStart(5)}%  ${f}`)
}
