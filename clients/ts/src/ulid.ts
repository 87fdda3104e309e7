/**
 * Event ids: ULIDs (48-bit millisecond time, 80 random bits) written as 26
 * uppercase Crockford base32 characters, whose text order is their byte
 * order. This is a port of the Go generator (event.Generator, see
 * docs/architecture.md "Events, ids and merge"): every id is greater than
 * the last one this generator made and greater than every id it is given as
 * a parent, so sorting events by id applies parents first and "larger id
 * wins" never lets an ancestor beat its descendant.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DECODE: Record<string, number> = Object.fromEntries([...ALPHABET].map((c, i) => [c, i]));

/** A ULID's 16 bytes, most significant first. */
type Bytes = Uint8Array;

/** Reports whether s is a canonical ULID (26 characters, uppercase, first ≤ '7'). */
export function isId(s: string): boolean {
  return /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(s);
}

/** Encodes 16 bytes as 26 base32 characters (the first carries 3 bits). */
export function encodeId(b: Bytes): string {
  let out = '';
  // 130 bits of output for 128 of input: read 5 bits at a time from the
  // left of a 130-bit number whose top two bits are zero.
  let acc = 0;
  let bits = 2; // two leading zero bits
  for (const byte of b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** Decodes a canonical ULID into its 16 bytes. */
export function decodeId(s: string): Bytes {
  if (!isId(s)) throw new TypeError(`not a ULID: ${JSON.stringify(s)}`);
  const out = new Uint8Array(16);
  let acc = 0;
  let bits = -2; // drop the two leading zero bits
  let o = 0;
  for (const c of s) {
    acc = (acc << 5) | (DECODE[c] ?? 0);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << Math.max(bits, 0)) - 1;
  }
  return out;
}

/** Returns the millisecond time part of an id (informative only). */
export function idTime(s: string): number {
  const b = decodeId(s);
  let ms = 0;
  for (let i = 0; i < 6; i++) ms = ms * 256 + (b[i] ?? 0);
  return ms;
}

function compareBytes(a: Bytes, b: Bytes): number {
  for (let i = 0; i < 16; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Adds n (< 2^53) to a 128-bit number, carrying into the time part. */
function add(b: Bytes, n: number): Bytes {
  const out = b.slice();
  let carry = n;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const sum = (out[i] ?? 0) + (carry % 256);
    out[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return out;
}

function setTime(b: Bytes, ms: number): void {
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
}

/** Where randomness and time come from; tests replace them. */
export interface IdSource {
  now(): number;
  random(bytes: Uint8Array): void;
}

export const defaultIdSource: IdSource = {
  now: () => Date.now(),
  random: (bytes) => void globalThis.crypto.getRandomValues(bytes),
};

/**
 * IdGenerator makes ids that increase within the generator and exceed the
 * ids given to next(). One per client is enough; ids from different
 * clients do not collide because 80 bits of each are random.
 */
export class IdGenerator {
  #last: Bytes = new Uint8Array(16);

  readonly #source: IdSource;

  constructor(source: IdSource = defaultIdSource) {
    this.#source = source;
  }

  /** Returns a fresh id greater than the last one made and than every id in after. */
  next(after: readonly string[] = []): string {
    let floor = this.#last;
    let floorIsLast = true;
    for (const a of after) {
      const b = decodeId(a);
      if (compareBytes(b, floor) > 0) {
        floor = b;
        floorIsLast = false;
      }
    }
    const id = new Uint8Array(16);
    this.#source.random(id.subarray(6));
    setTime(id, this.#source.now());
    let out: Bytes = id;
    if (compareBytes(id, floor) <= 0) {
      if (floorIsLast) {
        // Same millisecond as our last id, or the clock went back: step past
        // our own last id by a random amount in [1, 2^32], as ulid.Monotonic
        // does. Only this generator steps past its own ids, so no collision.
        const r = new Uint8Array(4);
        this.#source.random(r);
        out = add(floor, ((r[0]! << 24) >>> 0) + (r[1]! << 16) + (r[2]! << 8) + r[3]! + 1);
      } else {
        // A parent from a node whose clock runs ahead. Other clients may step
        // past the same parent at the same time, so keep 80 fresh random
        // bits: the parent's millisecond, or the next one if that is not
        // greater.
        id.set(floor.subarray(0, 6), 0);
        out = compareBytes(id, floor) > 0 ? id : nextMillisecond(id);
      }
    }
    this.#last = out;
    return encodeId(out);
  }
}

/** Returns b with its 48-bit time part increased by one millisecond (random part kept). */
function nextMillisecond(b: Bytes): Bytes {
  const out = b.slice();
  for (let i = 5; i >= 0; i--) {
    out[i] = ((out[i] ?? 0) + 1) & 0xff;
    if (out[i] !== 0) break;
  }
  return out;
}
