// Differential test of package yjs (Go) against the real yjs npm package.
//
// Started by TestDifferential (differential_test.go) as a child process:
//   node differential.mjs <baseSeed> <traces>
// It generates random multi-replica editing traces (trace i uses seed
// baseSeed+i). Replicas are Yjs documents (here) or Go documents (in the Go
// test, driven over this process's stdout/stdin as JSON lines). Every replica
// has a mirror of the other implementation that receives exactly the same
// updates in the same order; after every step the two must agree on the text,
// the state vector and (at checkpoints) the encoded state byte for byte.
// Updates travel between replicas reordered and duplicated, and by state
// vector diffs and whole states, in both directions (Go → Yjs, Yjs → Go).
//
// Protocol: each request is one line {"id":n,"op":...}; the Go test answers
// with one line {"id":n,...}. The last line written is
// {"done":true,"traces":N,"steps":S,"failures":[{"seed":s,"error":"..."}]}.
// Diagnostics go to stderr (YJS_DEBUG_ORDER=1 also prints a twin's item order
// where it differs from its mirror's; YJS_DUMP=1 a rich trace's updates).
// Replay one trace with
//   YJS_SEED=<seed> go test ./internal/yjs -run TestDifferential -yjs.traces=1 -v

import * as Y from 'yjs'
import * as readline from 'node:readline'

const baseSeed = Number(process.argv[2] ?? 1)
const traces = Number(process.argv[3] ?? 1000)

// ---- Go side --------------------------------------------------------------

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
const lines = rl[Symbol.asyncIterator]()
let nextId = 1

/** Sends a request to the Go test and returns its answer. */
async function go (op, args) {
  const id = nextId++
  process.stdout.write(JSON.stringify({ id, op, ...args }) + '\n')
  const { value, done } = await lines.next()
  if (done) throw new Error('Go side closed its output')
  const res = JSON.parse(value)
  if (res.id !== id) throw new Error(`answer ${res.id} to request ${id}`)
  return res
}

const b64 = u8 => Buffer.from(u8).toString('base64')
const unb64 = s => new Uint8Array(Buffer.from(s ?? '', 'base64'))

// ---- randomness -------------------------------------------------------------

/** sfc32, seeded from a number below 2^53. */
function rng (seed) {
  let a = seed >>> 0
  let b = Math.floor(seed / 2 ** 32) >>> 0
  let c = 0x9e3779b9
  let d = 0x243f6a88
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (a + b | 0) + d | 0
    d = d + 1 | 0
    a = b ^ b >>> 9
    b = c + (c << 3) | 0
    c = (c << 21 | c >>> 11)
    c = c + t | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 20; i++) next()
  const r = {
    float: next,
    int: n => Math.floor(next() * n), // [0, n)
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // [lo, hi]
    chance: p => next() < p,
    pick: arr => arr[Math.floor(next() * arr.length)]
  }
  return r
}

// Pieces of text: ASCII, accents, combining marks, CJK, and astral characters
// (surrogate pairs: emoji, a skin-tone sequence, a ZWJ family, a musical
// symbol).
const PIECES = [
  'a', 'b', 'c', 'd', 'e', 'x', 'y', 'z', ' ', ' ', '\n', 'hello', 'world', 'é', 'ß', 'e\u0301',
  '中', '文字', 'ñ', '🙂', '😀', '👍🏽', '👨‍👩‍👧', '𝄞', 'ab🙂cd', '\u2028', '"', '\\'
]

function randomText (r, maxPieces) {
  let s = ''
  const n = r.range(1, maxPieces)
  for (let i = 0; i < n; i++) s += r.pick(PIECES)
  return s
}

const isHigh = c => c >= 0xd800 && c <= 0xdbff
const isLow = c => c >= 0xdc00 && c <= 0xdfff
/** Whether UTF-16 position pos of s falls between the halves of a pair. */
const insidePair = (s, pos) => pos > 0 && pos < s.length && isHigh(s.charCodeAt(pos - 1)) && isLow(s.charCodeAt(pos))
/** Moves pos off the middle of a surrogate pair. */
const clean = (s, pos) => insidePair(s, pos) ? pos - 1 : pos

// ---- replicas ----------------------------------------------------------------

class Failure extends Error {}
function check (cond, msg) {
  if (!cond) throw new Failure(msg)
}

let goDocs = 0

/** A Yjs document. */
class YRep {
  constructor (clientID, gc) {
    this.kind = 'y'
    this.gc = gc
    this.doc = new Y.Doc({ gc })
    this.doc.clientID = clientID
    this.clientID = clientID
    this.lastUpdate = null
    this.doc.on('update', u => { this.lastUpdate = u })
  }

  async init () {}
  text () { return this.doc.getText('text').toString() }
  sv () { return Y.encodeStateVector(this.doc) }
  pending () { return this.doc.store.pendingStructs !== null || this.doc.store.pendingDs !== null }
  async apply (u) { if (u && u.length > 0) Y.applyUpdate(this.doc, u) }
  async state () { return Y.encodeStateAsUpdate(this.doc) }
  async diff (sv) { return Y.encodeStateAsUpdate(this.doc, sv) }
  async edit (f) {
    this.lastUpdate = null
    f(this.doc.getText('text'))
    return this.lastUpdate
  }

  async insert (pos, text) { return this.edit(t => t.insert(pos, text)) }
  async delete (pos, n) { return this.edit(t => t.delete(pos, n)) }
  async reload () {
    const state = Y.encodeStateAsUpdate(this.doc)
    this.doc = new Y.Doc({ gc: this.gc })
    Y.applyUpdate(this.doc, state)
    this.doc.clientID = this.clientID
    this.doc.on('update', u => { this.lastUpdate = u })
  }
}

/** A Go document, held by the Go test. */
class GRep {
  constructor (clientID, gc) {
    this.kind = 'g'
    this.gc = gc
    this.clientID = clientID
    this.id = ++goDocs
    this.snap = { text: '', sv: new Uint8Array([0]), pending: false }
  }

  async init () { this.take(await go('new', { doc: this.id, client: this.clientID, gc: this.gc })) }
  take (res) {
    if (res.error) throw new Failure(`Go doc ${this.id}: ${res.error}`)
    this.snap = { text: res.text, sv: unb64(res.sv), pending: res.pending }
    return res
  }

  text () { return this.snap.text }
  sv () { return this.snap.sv }
  pending () { return this.snap.pending }
  async apply (u) { if (u && u.length > 0) this.take(await go('apply', { doc: this.id, update: b64(u) })) }
  async state () { return unb64(this.take(await go('state', { doc: this.id })).update) }
  async diff (sv) { return unb64(this.take(await go('diff', { doc: this.id, sv: b64(sv) })).update) }
  async insert (pos, text) { return unb64(this.take(await go('insert', { doc: this.id, pos, text })).update) }
  async delete (pos, n) { return unb64(this.take(await go('delete', { doc: this.id, pos, n })).update) }
  async replace (text) { return unb64(this.take(await go('replace', { doc: this.id, text })).update) }
  async reload () { this.take(await go('reload', { doc: this.id })) }
  /** Tries an edit that must fail (it cuts a surrogate pair). */
  async badEdit (op, args) {
    const res = await go(op, { doc: this.id, ...args })
    check(res.error, `Go ${op} ${JSON.stringify(args)} inside a surrogate pair did not fail`)
    check(res.error.includes('surrogate'), `Go ${op} failed for another reason: ${res.error}`)
  }
}

const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])
const hex = u => Buffer.from(u).toString('hex')

/**
 * Makes edit f in a Yjs twin of Go replica p (loaded from its mirror's state,
 * with p's client id) and returns the update Yjs produces, to compare with
 * Go's; null if the replica has pending structs. (Yjs can keep a struct
 * pending after what it needs has arrived, when it was set aside with others
 * that wait for more, while a document loading the state integrates it at
 * once: then the twin is no twin.) Call it before the mirror applies Go's
 * update.
 */
function yjsTwinEdit (p, f) {
  if (p.main.pending()) return null
  const twin = new Y.Doc({ gc: p.mirror.gc })
  Y.applyUpdate(twin, Y.encodeStateAsUpdate(p.mirror.doc))
  twin.clientID = p.main.clientID
  if (process.env.YJS_DEBUG_ORDER) {
    const units = doc => {
      const out = []
      for (let n = doc.getText('text')._start; n; n = n.right) {
        for (let i = 0; i < n.length; i++) out.push(`${n.id.client}:${n.id.clock + i}${n.deleted ? 'd' : ''}`)
      }
      return out.join(' ')
    }
    const a = units(p.mirror.doc)
    const b = units(twin)
    if (a !== b) process.stderr.write(`ORDER DIFFERS\nmirror ${a}\ntwin   ${b}\n`)
  }
  let update = null
  twin.on('update', u => { update = u })
  twin.transact(() => f(twin.getText('text')))
  stats.twinEdits++
  return update ?? new Uint8Array()
}

/** A replica and its mirror of the other implementation. */
class Pair {
  constructor (name, main, mirror) {
    this.name = name
    this.main = main
    this.mirror = mirror
    this.inbox = []
  }

  /** Both must agree on the text, the state vector and pending work. */
  agree (what) {
    const a = this.main
    const b = this.mirror
    check(a.text() === b.text(), `${this.name} ${what}: text ${a.kind}=${JSON.stringify(a.text())} ${b.kind}=${JSON.stringify(b.text())}`)
    check(eq(a.sv(), b.sv()), `${this.name} ${what}: state vector ${a.kind}=${hex(a.sv())} ${b.kind}=${hex(b.sv())}`)
    check(a.pending() === b.pending(), `${this.name} ${what}: pending ${a.kind}=${a.pending()} ${b.kind}=${b.pending()}`)
  }

  async apply (u, what) {
    await this.main.apply(u)
    await this.mirror.apply(u)
    this.agree(what)
    if (this.main.pending()) stats.pendingSteps++
  }

  /** Both encode byte-identical states (same updates in the same order). */
  async sameState (what) {
    const a = await this.main.state()
    const b = await this.mirror.state()
    check(eq(a, b), `${this.name} ${what}: encoded states differ\n ${this.main.kind}=${hex(a)}\n ${this.mirror.kind}=${hex(b)}`)
    stats.stateChecks++
    return a
  }
}

let steps = 0
const stats = { twinEdits: 0, pendingSteps: 0, pairSplits: 0, stateChecks: 0, maxLen: 0, richTraces: 0 }

async function runTrace (seed) {
  const r = rng(seed)
  const n = r.range(2, 4)
  const kinds = Array.from({ length: n }, () => r.pick(['y', 'g']))
  if (!kinds.includes('y')) kinds[0] = 'y'
  if (!kinds.includes('g')) kinds[n - 1] = 'g'
  const ids = new Set()
  const pairs = []
  for (let i = 0; i < n; i++) {
    let id
    do {
      id = r.chance(0.1) ? r.range(0, 3) : r.chance(0.1) ? r.range(2 ** 32, 2 ** 40) : r.int(2 ** 32)
    } while (ids.has(id))
    ids.add(id)
    const gc = r.chance(0.8)
    // The mirror never edits; its own client id is one no replica uses.
    const mirrorID = 2 ** 41 + i
    const main = kinds[i] === 'y' ? new YRep(id, gc) : new GRep(id, gc)
    const mirror = kinds[i] === 'y' ? new GRep(mirrorID, gc) : new YRep(mirrorID, gc)
    await main.init()
    await mirror.init()
    pairs.push(new Pair(`replica ${i} (${kinds[i]}, client ${id}, gc ${gc})`, main, mirror))
  }

  /** Sends update u from pair p to every other pair. */
  const broadcast = (p, u) => {
    if (!u || u.length === 0) return
    for (const q of pairs) if (q !== p) q.inbox.push(u)
  }

  // Most traces are short; one in ten is long enough for bigger documents.
  const ops = r.chance(0.1) ? r.range(100, 250) : r.range(5, 40)
  for (let step = 0; step < ops; step++) {
    steps++
    const p = r.pick(pairs)
    const m = p.main
    const text = m.text()
    const x = r.float()
    const what = `step ${step}`
    if (x < 0.30) {
      // insert
      let pos = r.int(text.length + 1)
      if (m.kind === 'g' && insidePair(text, pos)) {
        await m.badEdit('insert', { pos, text: 'q' })
        pos = clean(text, pos)
      } else if (m.kind === 'y' && !r.chance(0.3)) {
        pos = clean(text, pos) // mostly, but not always, whole characters
      } else if (insidePair(text, pos)) {
        stats.pairSplits++
      }
      const ins = randomText(r, 4)
      const twin = m.kind === 'g' ? yjsTwinEdit(p, t => t.insert(pos, ins)) : null
      const u = await m.insert(pos, ins)
      if (twin) check(eq(u, twin), `${p.name} ${what}: Go's insert(${pos}, ${JSON.stringify(ins)}) update ${hex(u)}, Yjs's ${hex(twin)}`)
      check(m.text() === text.slice(0, pos) + ins + text.slice(pos) || (m.kind === 'y' && insidePair(text, pos)),
        `${p.name} ${what}: insert(${pos}, ${JSON.stringify(ins)}) into ${JSON.stringify(text)} gave ${JSON.stringify(m.text())}`)
      await p.mirror.apply(u)
      p.agree(`${what} insert`)
      broadcast(p, u)
    } else if (x < 0.45 && text.length > 0) {
      // delete
      let pos = r.int(text.length)
      let len = r.range(1, Math.min(8, text.length - pos))
      if (m.kind === 'g' && (insidePair(text, pos) || insidePair(text, pos + len))) {
        await m.badEdit('delete', { pos, n: len })
      }
      if (m.kind === 'g' || !r.chance(0.3)) {
        pos = clean(text, pos)
        len = clean(text, pos + len) - pos
        if (len === 0) continue
      } else if (insidePair(text, pos) || insidePair(text, pos + len)) {
        stats.pairSplits++
      }
      const twin = m.kind === 'g' ? yjsTwinEdit(p, t => t.delete(pos, len)) : null
      const u = await m.delete(pos, len)
      if (twin) check(eq(u, twin), `${p.name} ${what}: Go's delete(${pos}, ${len}) update ${hex(u)}, Yjs's ${hex(twin)}`)
      if (!(m.kind === 'y' && (insidePair(text, pos) || insidePair(text, pos + len)))) {
        check(m.text() === text.slice(0, pos) + text.slice(pos + len),
          `${p.name} ${what}: delete(${pos}, ${len}) from ${JSON.stringify(text)} gave ${JSON.stringify(m.text())}`)
      }
      await p.mirror.apply(u)
      p.agree(`${what} delete`)
      broadcast(p, u)
    } else if (x < 0.50 && m.kind === 'g') {
      // replace the whole text (as an SQL UPDATE would)
      const pos = clean(text, r.int(text.length + 1))
      const end = clean(text, Math.min(text.length, pos + r.int(6)))
      const want = r.chance(0.1) ? randomText(r, 6) : text.slice(0, pos) + (r.chance(0.7) ? randomText(r, 3) : '') + text.slice(end)
      // The same minimal edit in Yjs: common prefix and suffix in code points.
      const A = [...text]
      const B = [...want]
      let pre = 0
      while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++
      let suf = 0
      while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf++
      const at = A.slice(0, pre).join('').length
      const del = A.slice(pre, A.length - suf).join('').length
      const ins = B.slice(pre, B.length - suf).join('')
      const twin = yjsTwinEdit(p, t => {
        if (del > 0) t.delete(at, del)
        if (ins.length > 0) t.insert(at, ins)
      })
      const u = await m.replace(want)
      if (twin) check(eq(u, twin), `${p.name} ${what}: Go's replace of ${JSON.stringify(text)} by ${JSON.stringify(want)}: update ${hex(u)}, Yjs's ${hex(twin)}`)
      check(m.text() === want, `${p.name} ${what}: replace with ${JSON.stringify(want)} gave ${JSON.stringify(m.text())}`)
      await p.mirror.apply(u)
      p.agree(`${what} replace`)
      broadcast(p, u)
    } else if (x < 0.85) {
      // deliver one message from the inbox, in any order, sometimes twice
      if (p.inbox.length === 0) continue
      const i = r.int(p.inbox.length)
      const u = p.inbox[i]
      if (!r.chance(0.15)) p.inbox.splice(i, 1)
      await p.apply(u, `${what} deliver`)
    } else if (x < 0.93) {
      // sync by state vector: p receives what q has that p lacks
      const q = r.pick(pairs)
      if (q === p) continue
      const u = await q.main.diff(p.main.sv())
      await p.apply(u, `${what} diff from ${q.name}`)
    } else if (x < 0.97) {
      // p receives q's whole state
      const q = r.pick(pairs)
      if (q === p) continue
      await p.apply(await q.main.state(), `${what} state of ${q.name}`)
    } else {
      // store and reload (both sides, from their own encoded state)
      await p.sameState(`${what} before reload`)
      await p.main.reload()
      await p.mirror.reload()
      p.agree(`${what} reload`)
    }
  }

  // Deliver everything left, in random order, then converge through a hub.
  for (const p of pairs) {
    while (p.inbox.length > 0) {
      const u = p.inbox.splice(r.int(p.inbox.length), 1)[0]
      await p.apply(u, 'final delivery')
    }
  }
  const hub = pairs[0]
  for (const p of pairs.slice(1)) await hub.apply(await p.main.diff(hub.main.sv()), `final diff from ${p.name}`)
  for (const p of pairs.slice(1)) await p.apply(await hub.main.diff(p.main.sv()), 'final diff from the hub')

  const want = hub.main.text()
  stats.maxLen = Math.max(stats.maxLen, want.length)
  for (const p of pairs) {
    check(p.main.text() === want, `final text of ${p.name}: ${JSON.stringify(p.main.text())}, hub has ${JSON.stringify(want)}`)
    check(eq(p.main.sv(), hub.main.sv()), `final state vector of ${p.name}: ${hex(p.main.sv())}, hub has ${hex(hub.main.sv())}`)
    check(!p.main.pending(), `${p.name} still has pending structs after every update arrived`)
    const state = await p.sameState('final')
    // A fresh document of each kind loads the state to the same text.
    const fy = new YRep(2 ** 42, true)
    await fy.apply(state)
    check(fy.text() === want, `Yjs loading the state of ${p.name} got ${JSON.stringify(fy.text())}`)
    const fg = new GRep(2 ** 42, true)
    await fg.init()
    await fg.apply(state)
    check(fg.text() === want, `Go loading the state of ${p.name} got ${JSON.stringify(fg.text())}`)
  }
  return want
}

// A rich trace: a Yjs document gets content that Go does not edit but must
// keep and pass on intact (formatting marks and embeds in the text, other
// root types, nested types, types deleted with their children, binary and
// "any" values, a subdocument). Go applies its updates (in order, and
// shuffled), its encoded state must load in Yjs to the same content, and Go's
// text edits around that content must apply in Yjs to the same text.
async function runRichTrace (seed) {
  stats.richTraces++
  const r = rng(seed)
  const gc = r.chance(0.7)
  const a = new Y.Doc({ gc })
  a.clientID = r.int(2 ** 32)
  const ups = []
  a.on('update', u => ups.push(u))
  const t = a.getText('text')
  const meta = a.getMap('meta')
  const arr = a.getArray('arr')
  const xml = a.getXmlFragment('xml')
  const ops = r.range(5, 30)
  for (let i = 0; i < ops; i++) {
    const x = r.float()
    const len = t.length // counts embeds
    const pos = r.int(len + 1)
    const n = Math.min(len - pos, r.range(1, 4))
    if (x < 0.3) t.insert(pos, randomText(r, 3), r.chance(0.3) ? { bold: true } : undefined)
    else if (x < 0.4 && n > 0) t.delete(pos, n)
    else if (x < 0.5 && n > 0) t.format(pos, n, { italic: r.chance(0.6) ? true : null, size: r.pick([1, '2', null]) })
    else if (x < 0.55) t.insertEmbed(pos, { image: 'x' + r.int(9) })
    else if (x < 0.65) meta.set(r.pick(['k1', 'k2', 'k3']), r.pick([1, -7, 2 ** 40, 'two', { three: [3, null] }, null, true, 2.5, new Uint8Array([1, 2, 3])]))
    else if (x < 0.72) {
      // replacing 'sub' deletes the previous one and, collected, its children
      const sub = new Y.Map()
      const st = new Y.Text()
      st.insert(0, 'nested ' + r.int(10))
      sub.set('t', st)
      sub.set('x', r.int(5))
      meta.set('sub', sub)
    } else if (x < 0.8) arr.insert(r.int(arr.length + 1), [r.int(100), 'str', { o: [1, { p: false }] }])
    else if (x < 0.85 && arr.length > 0) arr.delete(r.int(arr.length), 1)
    else if (x < 0.9) {
      const el = new Y.XmlElement('p')
      el.setAttribute('class', 'c' + r.int(3))
      el.insert(0, [new Y.XmlText('hi')])
      xml.insert(0, [el])
    } else if (x < 0.92) meta.set('doc', new Y.Doc())
    else t.insert(pos, randomText(r, 2))
  }
  const content = d => JSON.stringify({
    delta: d.getText('text').toDelta(),
    text: d.getText('text').toString(),
    meta: d.getMap('meta').toJSON(),
    arr: d.getArray('arr').toJSON(),
    xml: d.getXmlFragment('xml').toString()
  })
  if (process.env.YJS_DUMP) process.stderr.write(`updates: ${ups.map(hex).join(',')}\n`)
  // The reference is a second Yjs document fed a's updates, not a itself:
  // Yjs's format() over a range already so formatted, with an end inside a
  // surrogate pair, splits the pair (U+FFFD) in a's copy only; no update
  // carries that split, and other Yjs replicas keep the character.
  const ya = new Y.Doc({ gc })
  for (const u of ups) Y.applyUpdate(ya, u)
  const yt = ya.getText('text')
  const want = content(ya)

  const g = new GRep(2 ** 41, gc)
  await g.init()
  for (const u of ups) await g.apply(u)
  check(g.text() === yt.toString(), `rich: Go text ${JSON.stringify(g.text())}, Yjs ${JSON.stringify(yt.toString())}`)
  check(!g.pending(), 'rich: Go has pending structs after every update in order')
  const state = await g.state()
  check(eq(state, Y.encodeStateAsUpdate(ya)), `rich: encoded states differ\n g=${hex(state)}\n y=${hex(Y.encodeStateAsUpdate(ya))}`)
  stats.stateChecks++
  const b = new Y.Doc()
  Y.applyUpdate(b, state)
  check(content(b) === want, `rich: Yjs loading Go's state got ${content(b)}, want ${want}`)

  // The same updates shuffled and some repeated: the same content.
  const g2 = new GRep(2 ** 41 + 1, r.chance(0.5))
  await g2.init()
  const shuffled = ups.concat(ups.filter(() => r.chance(0.2)))
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]
  }
  for (const u of shuffled) await g2.apply(u)
  check(g2.text() === yt.toString(), `rich shuffled: Go text ${JSON.stringify(g2.text())}, Yjs ${JSON.stringify(yt.toString())}`)
  const b2 = new Y.Doc()
  Y.applyUpdate(b2, await g2.state())
  check(content(b2) === want, `rich shuffled: Yjs loading Go's state got ${content(b2)}, want ${want}`)

  // Go edits the text around the formatting and embeds; Yjs follows.
  const yups = []
  ya.on('update', u => yups.push(u))
  for (let i = 0; i < 6; i++) {
    const text = g.text()
    let u
    if (r.chance(0.6) || text.length === 0) {
      const pos = clean(text, r.int(text.length + 1))
      const ins = randomText(r, 2)
      u = await g.insert(pos, ins)
      check(g.text() === text.slice(0, pos) + ins + text.slice(pos), `rich: Go insert(${pos}) gave ${JSON.stringify(g.text())}`)
    } else {
      const pos = clean(text, r.int(text.length))
      const len = clean(text, Math.min(text.length, pos + r.range(1, 4))) - pos
      if (len === 0) continue
      u = await g.delete(pos, len)
      check(g.text() === text.slice(0, pos) + text.slice(pos + len), `rich: Go delete(${pos}, ${len}) gave ${JSON.stringify(g.text())}`)
    }
    const before = yups.length
    Y.applyUpdate(ya, u)
    // Yjs may clean up formatting after a remote change: Go takes that too.
    for (const v of yups.slice(before)) await g.apply(v)
    check(yt.toString() === g.text(), `rich: after Go's edit Yjs has ${JSON.stringify(yt.toString())}, Go ${JSON.stringify(g.text())}`)
  }
  const b3 = new Y.Doc()
  Y.applyUpdate(b3, await g.state())
  check(content(b3) === content(ya), `rich: after Go's edits, Yjs loading Go's state got ${content(b3)}, want ${content(ya)}`)
}

const failures = []
let nonEmpty = 0
for (let i = 0; i < traces; i++) {
  const seed = baseSeed + i
  try {
    if (seed % 10 === 9) {
      await runRichTrace(seed)
      nonEmpty++
    } else if ((await runTrace(seed)).length > 0) {
      nonEmpty++
    }
  } catch (e) {
    // A Failure is a disagreement; anything else (Yjs throwing on an update
    // Go wrote, say) is a failure of the trace too, with its stack.
    const error = e instanceof Failure ? e.message : `exception: ${e.stack}`
    process.stderr.write(`trace seed ${seed} failed: ${error}\n`)
    failures.push({ seed, error })
    if (failures.length >= 10) break
  }
  await go('reset', {})
  goDocs = 0
}
process.stderr.write(`coverage: ${JSON.stringify(stats)}\n`)
process.stdout.write(JSON.stringify({ done: true, traces, steps, nonEmpty, failures }) + '\n')
rl.close()
