import { describe, expect, it } from 'vitest';
import { decodeId, encodeId, IdGenerator, idTime, isId } from '../src/ulid.js';

/** A generator with a settable clock and counting "randomness". */
function fixed(now: { ms: number }, fill = 0x42) {
  return new IdGenerator({ now: () => now.ms, random: (b) => void b.fill(fill) });
}

describe('ULID ids', () => {
  it('round-trips 16 bytes through the 26-character form, in byte order', () => {
    const bytes = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const s = encodeId(bytes);
    expect(s).toHaveLength(26);
    expect(isId(s)).toBe(true);
    expect(decodeId(s)).toEqual(bytes);
    expect(encodeId(new Uint8Array(16))).toBe('0'.repeat(26));
    expect(encodeId(new Uint8Array(16).fill(255))).toBe('7' + 'Z'.repeat(25));
  });

  it('puts the clock in the top 48 bits', () => {
    const id = fixed({ ms: 1_700_000_000_000 }).next();
    expect(idTime(id)).toBe(1_700_000_000_000);
  });

  it('increases within a millisecond and when the clock goes back', () => {
    const now = { ms: 1_700_000_000_000 };
    const g = fixed(now);
    const a = g.next();
    const b = g.next();
    now.ms -= 5000;
    const c = g.next();
    expect(a < b && b < c).toBe(true);
  });

  it('steps past a parent from a clock that runs ahead, keeping fresh random bits', () => {
    const now = { ms: 1_700_000_000_000 };
    const ahead = fixed({ ms: now.ms + 60_000 }, 0xff).next(); // all random bits set
    const g = fixed(now, 0x10);
    const id = g.next([ahead]);
    expect(id > ahead).toBe(true);
    expect(idTime(id)).toBe(now.ms + 60_001); // the parent's millisecond was full
    const low = fixed({ ms: now.ms + 60_000 }, 0x00).next();
    const id2 = fixed(now, 0x10).next([low]);
    expect(id2 > low).toBe(true);
    expect(idTime(id2)).toBe(now.ms + 60_000); // same millisecond, larger random part
  });

  it('makes distinct increasing ids with real randomness', () => {
    const g = new IdGenerator();
    const ids = Array.from({ length: 1000 }, () => g.next());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });
});
