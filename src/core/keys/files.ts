/**
 * Where a datadir keeps its node keys: names only, so a command that needs a path (`harmonyd wallet new --datadir`)
 * does not load the key code and libp2p's crypto with them (identity.ts).
 */
export const KEYS_DIR = 'keys'
export const P2P_KEY_FILE = 'p2p.key'
export const LEDGER_KEY_FILE = 'ledger.key'
