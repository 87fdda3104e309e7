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

/** A ULID's 16 bytes, most significant first. */
type Bytes = Uint8Array;

/** The 80 random bits below the 48-bit time. */
const RANDOM = (1n << 80n) - 1n;

/** Reports whether s is a canonical ULID (26 characters, uppercase, first ≤ '7'). */
export function isId(s: string): boolean {
  return /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(s);
}

/** Bytes, most significant first, as one number. */
const fromBytes = (b: Bytes): bigint => b.reduce((n, x) => (n << 8n) | BigInt(x), 0n);

/** A 128-bit number as 26 base32 characters (the first carries 3 bits). */
function encode(n: bigint): string {
  let out = '';
  for (let i = 0; i < 26; i++, n >>= 5n) out = ALPHABET[Number(n & 31n)] + out;
  return out;
}

/** A canonical ULID as its 128-bit number. */
function decode(s: string): bigint {
  if (!isId(s)) throw new TypeError(`not a ULID: ${JSON.stringify(s)}`);
  let n = 0n;
  for (const c of s) n = (n << 5n) | BigInt(ALPHABET.indexOf(c));
  return n;
}

/** Encodes 16 bytes as 26 base32 characters. */
export function encodeId(b: Bytes): string {
  return encode(fromBytes(b));
}

/** Decodes a canonical ULID into its 16 bytes. */
export function decodeId(s: string): Bytes {
  let n = decode(s);
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--, n >>= 8n) out[i] = Number(n & 255n);
  return out;
}

/** Returns the millisecond time part of an id (informative only). */
export function idTime(s: string): number {
  return Number(decode(s) >> 80n);
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
  #last = 0n;

  readonly #source: IdSource;

  constructor(source: IdSource = defaultIdSource) {
    this.#source = source;
  }

  /** Returns a fresh id greater than the last one made and than every id in after. */
  next(after: readonly string[] = []): string {
    let floor = this.#last;
    let floorIsLast = true;
    for (const a of after) {
      const n = decode(a);
      if (n > floor) {
        floor = n;
        floorIsLast = false;
      }
    }
    const random = new Uint8Array(10);
    this.#source.random(random);
    let id = (BigInt(Math.floor(this.#source.now())) << 80n) | fromBytes(random);
    if (id <= floor) {
      if (floorIsLast) {
        // Same millisecond as our last id, or the clock went back: step past
        // our own last id by a random amount in [1, 2^32], as ulid.Monotonic
        // does. Only this generator steps past its own ids, so no collision.
        const r = new Uint8Array(4);
        this.#source.random(r);
        id = floor + fromBytes(r) + 1n;
      } else {
        // A parent from a node whose clock runs ahead. Other clients may step
        // past the same parent at the same time, so keep 80 fresh random
        // bits: the parent's millisecond, or the next one if that is not
        // greater.
        id = (floor & ~RANDOM) | (id & RANDOM);
        if (id <= floor) id += RANDOM + 1n;
      }
    }
    this.#last = id;
    return encode(id);
  }
}
