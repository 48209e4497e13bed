// The local ledger network builder lives in bench/lib (a bench imports no test helper); the tests use it from here.
export * from '../../bench/lib/ledger-net.ts'
