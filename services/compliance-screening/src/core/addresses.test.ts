import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSanctionsList, lookupSanctionedAddress, normalizeAddress, SanctionsListError } from './addresses.js';
import { screen } from './screen.js';
import { DATA_DIR, DEFAULT_SANCTIONS_SOURCE } from '../reference/rules-source.js';
import { loadSanctionsList } from '../reference/sanctions-source.js';
import { loadDefaultReference, makeContext, makeEvent, type Reference } from '../testing/fixtures.js';

// shared/ sits beside the repo clone (development machines and CI).
const SHARED_SNAPSHOT = path.resolve(DATA_DIR, '../../../../shared/data/ofac-sdn-digital-currency-addresses');

async function allListedAddresses(folder: string): Promise<Array<{ ticker: string; address: string }>> {
  const out: Array<{ ticker: string; address: string }> = [];
  for (const name of (await readdir(folder)).filter((n) => n.endsWith('.txt')).sort()) {
    const ticker = /sanctioned_addresses_(.+)\.txt/.exec(name)?.[1] as string;
    for (const line of (await readFile(path.join(folder, name), 'utf8')).split('\n')) {
      if (line.trim()) out.push({ ticker, address: line.trim() });
    }
  }
  return out;
}

describe('normalizeAddress', () => {
  it('lower-cases EVM addresses (EIP-55 case is only a checksum)', () => {
    expect(normalizeAddress('0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1')).toEqual({
      family: 'evm',
      normalized: '0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1',
    });
    expect(normalizeAddress('0X01E2919679362DFBC9EE1644BA9C6DA6D6245BB1'.replace('0X', '0x')).normalized).toBe(
      '0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1',
    );
  });
  it('lower-cases bech32 and CashAddr, dropping the bitcoincash: prefix', () => {
    expect(normalizeAddress('BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ')).toEqual({
      family: 'bech32',
      normalized: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
    });
    expect(normalizeAddress('bitcoincash:qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq')).toEqual({
      family: 'cashaddr',
      normalized: 'qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq',
    });
  });
  it('keeps base58 and other addresses exactly as given (case matters)', () => {
    expect(normalizeAddress('TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre')).toEqual({
      family: 'exact',
      normalized: 'TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre',
    });
    expect(normalizeAddress(' 123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX ').normalized).toBe('123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX');
  });
});

describe('sanctions list', () => {
  let ref: Reference;
  beforeAll(async () => {
    ref = await loadDefaultReference();
  });

  it('loads the snapshot shipped in data/ with a content-hash version', () => {
    expect(ref.sanctions.address_count).toBeGreaterThan(600);
    expect(ref.sanctions.version).toMatch(/^sha256:[0-9a-f]{16}@2026-11-23T00:00:00.000Z$/);
  });

  it('gives the same content the same hash, and different content a different one', () => {
    const a = buildSanctionsList([{ ticker: 'ETH', text: '0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n' }], {
      source: 't',
      loaded_at_ms: 1,
    });
    const b = buildSanctionsList([{ ticker: 'ETH', text: '0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n' }], {
      source: 't',
      loaded_at_ms: 2,
    });
    const c = buildSanctionsList([{ ticker: 'ETH', text: '0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270d\n' }], {
      source: 't',
      loaded_at_ms: 1,
    });
    expect(a.content_sha256).toBe(b.content_sha256);
    expect(a.content_sha256).not.toBe(c.content_sha256);
  });

  it('refuses an empty list and lines that are not addresses', () => {
    expect(() => buildSanctionsList([{ ticker: 'ETH', text: '\n\n' }], { source: 't', loaded_at_ms: 1 })).toThrow(SanctionsListError);
    expect(() => buildSanctionsList([{ ticker: 'ETH', text: 'not an address\n' }], { source: 't', loaded_at_ms: 1 })).toThrow(
      SanctionsListError,
    );
  });

  it('merges an address listed under several tickers (ARB and BSC list the same EVM address)', () => {
    const match = lookupSanctionedAddress(ref.sanctions, '0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c');
    expect(match?.entry.tickers).toEqual(expect.arrayContaining(['ARB', 'BSC']));
  });

  it('is an exact copy of the shared snapshot', async () => {
    if (!existsSync(SHARED_SNAPSHOT)) {
      // Not every checkout has shared/ beside it; the copy in data/ is what the service uses.
      expect(existsSync(DEFAULT_SANCTIONS_SOURCE)).toBe(true);
      return;
    }
    const shared = await loadSanctionsList(SHARED_SNAPSHOT, { now_ms: 0 });
    const ours = await loadSanctionsList(DEFAULT_SANCTIONS_SOURCE, { now_ms: 0 });
    expect(ours.content_sha256).toBe(shared.content_sha256);
    expect(ours.address_count).toBe(shared.address_count);
  });

  it('BLOCKs every address of the snapshot, as sender and as receiver, citing the list version', async () => {
    const listed = await allListedAddresses(existsSync(SHARED_SNAPSHOT) ? SHARED_SNAPSHOT : DEFAULT_SANCTIONS_SOURCE);
    expect(listed.length).toBe(654);
    for (const { ticker, address } of listed) {
      for (const side of ['from_address', 'to_address'] as const) {
        const event = makeEvent({
          asset: ticker,
          event_type: side === 'from_address' ? 'deposit.confirmed' : 'withdrawal.requested',
          from_address: null,
          to_address: null,
          [side]: address,
        });
        const decision = screen(event, makeContext(ref, event));
        expect(decision.decision, `${ticker} ${address} as ${side}`).toBe('BLOCK');
        const reason = decision.reasons.find((r) => r.code === 'SANCTIONED_ADDRESS');
        expect(reason).toMatchObject({
          rule_id: 'sanctions.ofac_sdn_address',
          outcome: 'BLOCK',
          matched_value: address,
          list_version: ref.sanctions.version,
        });
      }
    }
  });

  it('BLOCKs an EVM address that differs from the listed one only in letter case', () => {
    for (const variant of [
      '0x01E2919679362DFBC9EE1644BA9C6DA6D6245BB1',
      '0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1',
      '0x01e2919679362DfBc9EE1644bA9c6Da6d6245bB1',
    ]) {
      const event = makeEvent({ asset: 'ETH', from_address: variant });
      expect(screen(event, makeContext(ref, event)).decision).toBe('BLOCK');
    }
  });

  it('BLOCKs an upper-case bech32 form of a listed address, but not a case-changed base58 one', () => {
    const bech32 = [...ref.sanctions.by_address.values()].find((e) => e.listed.startsWith('bc1'))?.listed as string;
    const upper = makeEvent({ asset: 'BTC', from_address: bech32.toUpperCase() });
    expect(screen(upper, makeContext(ref, upper)).decision).toBe('BLOCK');
    // Base58 is case-sensitive: a different case is a different (here: unlisted) address.
    const base58 = makeEvent({ asset: 'TRX', from_address: 'TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre'.toLowerCase() });
    expect(screen(base58, makeContext(ref, base58)).reasons.some((r) => r.code === 'SANCTIONED_ADDRESS')).toBe(false);
  });

  it('does not flag an address one character away from a listed one', () => {
    const event = makeEvent({ asset: 'ETH', from_address: '0x01e2919679362dfbc9ee1644ba9c6da6d6245bb2' });
    expect(screen(event, makeContext(ref, event)).reasons.some((r) => r.code === 'SANCTIONED_ADDRESS')).toBe(false);
  });
});
