// CPU time of process trees, read from Linux's /proc: what a set of devnet node processes (and the processes they
// started, such as the executor's sandbox) spent, user + system, for CPU-per-unit-of-work figures that do not move
// with the machine's load the way rates do. Undefined where /proc is not there to read.
import { readdir, readFile } from 'node:fs/promises'

const CLOCK_TICKS_PER_S = 100 // USER_HZ: 100 on every Linux architecture Node supports

interface ProcStat { ppid: number, cpuS: number }

async function procStat (pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8')
    // the command name is in parentheses and may hold spaces: the fields start after its last ')'
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
    return { ppid: Number(f[1]), cpuS: ticks / CLOCK_TICKS_PER_S }
  } catch {
    return undefined
  }
}

/**
 * User + system CPU seconds of every process in the trees under `roots` (themselves included, and the children
 * they already reaped): one snapshot. The difference of two snapshots is what the trees spent between them, as long
 * as no process of the trees exited unreaped in between.
 */
export async function treeCpuSeconds (roots: number[]): Promise<number | undefined> {
  let pids: number[]
  try {
    pids = (await readdir('/proc')).filter(n => /^\d+$/.test(n)).map(Number)
  } catch {
    return undefined
  }
  const stats = new Map<number, ProcStat>()
  await Promise.all(pids.map(async pid => { const s = await procStat(pid); if (s !== undefined) stats.set(pid, s) }))
  if (!roots.every(pid => stats.has(pid))) return undefined
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (roots.includes(p)) return true
      const s = stats.get(p)
      if (s === undefined) return false
      p = s.ppid
    }
    return false
  }
  let total = 0
  for (const [pid, s] of stats) if (inTree(pid)) total += s.cpuS
  return total
}
