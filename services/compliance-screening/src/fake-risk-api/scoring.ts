/**
 * Deterministic fake risk scores: the same address always gets the same score and
 * category (EVM addresses case-insensitively), spread like a real portfolio —
 * about 85 % low (0–29.99), 10 % medium (30–69.99), 5 % high (70–100).
 */
import { createHash } from 'node:crypto';
import { normalizeAddress } from '../core/addresses.js';

export interface FakeScore {
  risk_score: string;
  category: string;
  risk_level: 'low' | 'medium' | 'high';
}

const LOW = ['unhosted wallet', 'exchange', 'merchant services', 'mining pool'];
const MEDIUM = ['gambling', 'p2p exchange', 'high risk exchange'];
const HIGH = ['mixer', 'darknet market', 'ransomware', 'scam', 'stolen funds'];

/** Hundredths → decimal string with two decimals ("1234" → "12.34"). */
function hundredthsToString(hundredths: number): string {
  const whole = Math.floor(hundredths / 100);
  const frac = hundredths % 100;
  return `${whole}.${frac.toString().padStart(2, '0')}`;
}

export function fakeScore(address: string): FakeScore {
  const digest = createHash('sha256').update(normalizeAddress(address).normalized).digest();
  const bucket = digest.readUInt16BE(0) / 65_536; // [0, 1)
  const spread = digest.readUInt16BE(2); // 0..65535
  const pick = digest[4] as number;
  if (bucket < 0.85)
    return { risk_score: hundredthsToString(spread % 3_000), category: LOW[pick % LOW.length] as string, risk_level: 'low' };
  if (bucket < 0.95)
    return {
      risk_score: hundredthsToString(3_000 + (spread % 4_000)),
      category: MEDIUM[pick % MEDIUM.length] as string,
      risk_level: 'medium',
    };
  return { risk_score: hundredthsToString(7_000 + (spread % 3_001)), category: HIGH[pick % HIGH.length] as string, risk_level: 'high' };
}
