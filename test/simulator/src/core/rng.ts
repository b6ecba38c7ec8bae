/**
 * Seeded, deterministic randomness (pure-rand's xoroshiro128+). Every random choice the
 * simulator makes goes through an Rng derived from the scenario seed and a stream name,
 * so changing how deliveries are shuffled never changes which transactions exist.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { uniformBigInt } from 'pure-rand/distribution/uniformBigInt';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/** FNV-1a 32-bit: a stable way to turn (seed, stream name) into a sub-seed. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export class Rng {
  private readonly gen: RandomGenerator;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`rng seed must be a safe integer, got ${seed}`);
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** An independent stream for one concern ("world", "delivery", "discrepancies", ...). */
  static derive(seed: number, stream: string): Rng {
    return new Rng(fnv1a32(`${seed}:${stream}`) | 0);
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    if (max < min) throw new Error(`rng.int: max ${max} < min ${min}`);
    return uniformInt(this.gen, min, max);
  }

  /** bigint in [min, max], both included. */
  bigint(min: bigint, max: bigint): bigint {
    if (max < min) throw new Error(`rng.bigint: max ${max} < min ${min}`);
    return uniformBigInt(this.gen, min, max);
  }

  /** Float in [0, 1). Used for probabilities and delays only — never for money. */
  float(): number {
    return uniformFloat64(this.gen);
  }

  chance(probability: number): boolean {
    if (probability <= 0) return false;
    if (probability >= 1) return true;
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('rng.pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** Picks a key by non-negative weights. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = (Object.entries(weights) as [K, number][]).filter(([, w]) => w > 0);
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    if (entries.length === 0 || total <= 0) throw new Error('rng.weighted needs at least one positive weight');
    let roll = this.float() * total;
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return entries[entries.length - 1]![0];
  }

  /** Integer milliseconds in [min, max]. */
  duration_ms(range: readonly [number, number]): number {
    return this.int(Math.round(range[0]), Math.round(range[1]));
  }

  /** Exponentially distributed interval (Poisson arrivals) with the given mean, as whole ms ≥ 0. */
  exponential_ms(mean_ms: number): number {
    const u = this.float();
    return Math.round(-Math.log(1 - u) * mean_ms);
  }

  /**
   * bigint in [min, max] whose number of decimal digits is uniform: amounts spread
   * over orders of magnitude the way real payment amounts do.
   */
  logUniformBigInt(min: bigint, max: bigint): bigint {
    if (min < 1n || max < min) throw new Error(`rng.logUniformBigInt: bad range ${min}..${max}`);
    const digits_min = min.toString().length;
    const digits_max = max.toString().length;
    const digits = this.int(digits_min, digits_max);
    const low = digits === digits_min ? min : 10n ** BigInt(digits - 1);
    const high = digits === digits_max ? max : 10n ** BigInt(digits) - 1n;
    return this.bigint(low, high);
  }

  /** Random lower-case base32 string (ids, hashes). */
  token(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += ID_ALPHABET[this.int(0, 31)];
    return out;
  }

  /** Random string over an arbitrary alphabet (addresses). */
  chars(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(0, alphabet.length - 1)];
    return out;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
