/**
 * Request ids: RFC 9562 UUIDv7 (ms timestamp, then a 31-bit counter seeded at random each new
 * millisecond, then random bits), built by `uuid` exactly as its default `v7()` does (same
 * monotonic counter rule), but fed from a pooled CSPRNG buffer: `v7()` asks the OS for 16 random
 * bytes per id (crypto.getRandomValues, ~5 % of ingress's CPU per request); here one
 * randomFillSync call serves 256 ids. Every byte of the pool is used once.
 */
import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

const ID_BYTES = 16;
const POOL_IDS = 256;
const pool = new Uint8Array(ID_BYTES * POOL_IDS);
let pool_offset = pool.length;

/** Monotonic state, as uuid keeps it for `v7()`: the last millisecond used and the counter in it. */
const state = { msecs: -Infinity, seq: 0 };

function random16(): Uint8Array {
  if (pool_offset === pool.length) {
    randomFillSync(pool);
    pool_offset = 0;
  }
  const bytes = pool.subarray(pool_offset, pool_offset + ID_BYTES);
  pool_offset += ID_BYTES;
  return bytes;
}

/** A new UUIDv7, monotonic within this process (a later call never sorts before an earlier one). */
export function newRequestId(now_ms: number = Date.now()): string {
  const random = random16();
  if (now_ms > state.msecs) {
    // A new millisecond: the counter starts at a random 31-bit value (uuid's v7Sequence).
    state.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    state.msecs = now_ms;
  } else {
    state.seq = (state.seq + 1) | 0;
    if (state.seq === 0) state.msecs++;
  }
  return v7({ random, msecs: state.msecs, seq: state.seq });
}
