// Writes the seed corpora of FuzzApplyUpdate and FuzzDecodeStateVector
// (testdata/fuzz/...) from updates, states and state vectors that the real
// yjs package produces. Run from the repository root after npm ci:
//   node internal/yjs/testdata/fuzzseeds.mjs
// The files are committed; rerun only to refresh them.

import * as Y from 'yjs'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** A Go fuzz corpus file holding one []byte. */
function corpus (bytes) {
  let lit = ''
  for (const b of bytes) {
    lit += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : '\\x' + b.toString(16).padStart(2, '0')
  }
  return `go test fuzz v1\n[]byte("${lit}")\n`
}

function write (target, name, bytes) {
  const dir = join(here, 'fuzz', target)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, name), corpus(bytes))
}

const updates = {}
const svs = {}

// Plain text typed, edited and deleted by two clients.
{
  const a = new Y.Doc()
  a.clientID = 1
  const b = new Y.Doc()
  b.clientID = 2 ** 32 - 1
  const seen = []
  a.on('update', u => { seen.push(u); Y.applyUpdate(b, u) })
  const t = a.getText('text')
  t.insert(0, 'hello world')
  t.insert(5, ', 😀 and 中文')
  t.delete(0, 2)
  updates.local_insert = seen[0]
  updates.local_delete = seen[2]
  b.getText('text').insert(3, 'é\u0301')
  updates.two_clients_state = Y.encodeStateAsUpdate(b)
  updates.diff = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a))
  svs.two_clients = Y.encodeStateVector(b)
  svs.empty = Y.encodeStateVector(new Y.Doc())
  const nogc = new Y.Doc({ gc: false })
  Y.applyUpdate(nogc, updates.two_clients_state)
  nogc.getText('text').delete(1, 4)
  updates.no_gc_state = Y.encodeStateAsUpdate(nogc)
  updates.v2_update = Y.encodeStateAsUpdateV2(b)
}

// Rich content: formatting, embeds, other root types, nested and deleted
// types (GC structs), binary and "any" values, a subdocument.
{
  const d = new Y.Doc()
  d.clientID = 77
  const t = d.getText('text')
  t.insert(0, 'rich text', { bold: true })
  t.insertEmbed(4, { image: 'x.png' })
  t.format(0, 4, { italic: true })
  const m = d.getMap('meta')
  m.set('n', 2 ** 40)
  m.set('f', 2.5)
  m.set('o', { a: [1, null, 'x'], b: true })
  m.set('bin', new Uint8Array([0, 1, 255]))
  const sub = new Y.Map()
  sub.set('t', new Y.Text('nested'))
  m.set('sub', sub)
  m.set('sub', 'replaced') // the nested map and its text are collected
  d.getArray('arr').insert(0, [1, 'two', { three: 3 }])
  const el = new Y.XmlElement('p')
  el.setAttribute('class', 'c')
  d.getXmlFragment('xml').insert(0, [el])
  m.set('doc', new Y.Doc())
  updates.rich_state = Y.encodeStateAsUpdate(d)
  svs.rich = Y.encodeStateVector(d)
}

// A document holding pending structs and deletes: its state has a Skip.
{
  const src = new Y.Doc()
  src.clientID = 5
  const ups = []
  src.on('update', u => ups.push(u))
  const t = src.getText('text')
  t.insert(0, 'abc')
  t.insert(3, 'def')
  t.delete(1, 3)
  const d = new Y.Doc()
  Y.applyUpdate(d, ups[1])
  Y.applyUpdate(d, ups[2])
  updates.pending_state = Y.encodeStateAsUpdate(d)
  updates.out_of_order = ups[1]
}

for (const [name, u] of Object.entries(updates)) write('FuzzApplyUpdate', name, u)
for (const [name, sv] of Object.entries(svs)) write('FuzzDecodeStateVector', name, sv)
console.log(`wrote ${Object.keys(updates).length} updates and ${Object.keys(svs).length} state vectors`)
