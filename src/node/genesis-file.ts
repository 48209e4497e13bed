import { writeFile } from 'node:fs/promises'
import { genesisToJson, type Genesis } from '../dag/genesis.ts'

export const GENESIS_FILE = 'genesis.json'

/** Writes a genesis file (bigints as decimal strings); refuses to replace an existing one. */
export async function writeGenesisFile (path: string, genesis: Genesis): Promise<void> {
  const text = `${JSON.stringify(genesisToJson(genesis), (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v, 2)}\n`
  await writeFile(path, text, { flag: 'wx' })
}
