// Replays the keystroke trace of bench_test.go in the yjs package, for a
// reference beside BenchmarkApplyKeystrokes (docs/benchmarks.md):
//   YJS_TRACE_OUT=/tmp/trace.hex go test ./internal/yjs -run TestWriteKeystrokeTrace
//   node internal/yjs/testdata/bench.mjs /tmp/trace.hex
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'

const ups = readFileSync(process.argv[2], 'utf8').trim().split('\n').map(h => Buffer.from(h, 'hex'))
const apply = gc => {
  const d = new Y.Doc({ gc })
  for (const u of ups) Y.applyUpdate(d, u)
  return d
}
for (let i = 0; i < 5; i++) apply(true) // warm up
const runs = 20
const start = process.hrtime.bigint()
for (let i = 0; i < runs; i++) apply(true)
const us = Number(process.hrtime.bigint() - start) / 1000 / runs / ups.length
const d = apply(true)
const kept = apply(false)
console.log(JSON.stringify({
  updates: ups.length,
  usPerUpdate: +us.toFixed(2),
  stateBytes: Y.encodeStateAsUpdate(d).length,
  stateBytesNoGC: Y.encodeStateAsUpdate(kept).length,
  textBytes: Buffer.byteLength(d.getText('text').toString())
}))
