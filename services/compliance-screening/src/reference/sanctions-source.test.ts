import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupSanctionedAddress } from '../core/addresses.js';
import { loadSanctionsList, SanctionsHolder, type ReloadOutcome } from './sanctions-source.js';

const A = '0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c';
const B = 'TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre';

describe('SanctionsHolder on a folder', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sanctions-'));
    writeFileSync(path.join(dir, 'sanctioned_addresses_ETH.txt'), `${A}\n`);
    writeFileSync(path.join(dir, 'README.md'), 'not a list file');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reloads without a restart: new version on new content, same version on same content, old list kept on a broken one', async () => {
    const outcomes: ReloadOutcome[] = [];
    const holder = await SanctionsHolder.open(dir, (o) => outcomes.push(o));
    const v1 = holder.current.version;
    expect(lookupSanctionedAddress(holder.current, B)).toBeNull();

    expect(await holder.reload()).toMatchObject({ changed: false, version: v1 });

    writeFileSync(path.join(dir, 'sanctioned_addresses_TRX.txt'), `${B}\n`);
    const changed = await holder.reload();
    expect(changed.changed).toBe(true);
    expect(changed.version).not.toBe(v1);
    expect(lookupSanctionedAddress(holder.current, B)?.entry.tickers).toEqual(['TRX']);

    writeFileSync(path.join(dir, 'sanctioned_addresses_TRX.txt'), 'two words\n');
    const broken = await holder.reload();
    expect(broken.error).toMatch(/not an address/);
    expect(broken.version).toBe(changed.version);
    expect(lookupSanctionedAddress(holder.current, B)).not.toBeNull();
    expect(outcomes).toHaveLength(3);
    holder.stop();
  });

  it('picks up a changed file by itself (watch)', async () => {
    writeFileSync(path.join(dir, 'sanctioned_addresses_TRX.txt'), `${B}\n`);
    const holder = await SanctionsHolder.open(dir);
    const before = holder.current.version;
    holder.startAutoReload({ debounce_ms: 50, url_refresh_ms: 0 });
    writeFileSync(path.join(dir, 'sanctioned_addresses_XBT.txt'), '12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9\n');
    const started = Date.now();
    while (holder.current.version === before && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 50));
    expect(holder.current.version).not.toBe(before);
    expect(lookupSanctionedAddress(holder.current, '12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9')).not.toBeNull();
    holder.stop();
  });

  it('refuses a folder without list files', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'sanctions-empty-'));
    await expect(loadSanctionsList(empty)).rejects.toThrow(/no sanctioned_addresses/);
    rmSync(empty, { recursive: true, force: true });
  });
});

describe('loading from URLs', () => {
  let server: Server;
  let base: string;
  let status = 200;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (status !== 200) {
        res.writeHead(status).end();
      } else if (req.url === '/list.json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ETH: [A], TRX: [B] }));
      } else if (req.url === '/lists/sanctioned_addresses_XBT.txt') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9\n');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('merges a JSON ticker map and a per-ticker text file', async () => {
    const list = await loadSanctionsList(`${base}/list.json, ${base}/lists/sanctioned_addresses_XBT.txt`);
    expect(list.address_count).toBe(3);
    expect(lookupSanctionedAddress(list, A.toUpperCase().replace('0X', '0x'))?.entry.tickers).toEqual(['ETH']);
    expect(lookupSanctionedAddress(list, '12sjrrhoFEsedNRhtgwvvRqjFTh8fZTDX9')?.entry.tickers).toEqual(['XBT']);
  });

  it('keeps the list in force when the URL fails', async () => {
    const holder = await SanctionsHolder.open(`${base}/list.json`);
    status = 503;
    const outcome = await holder.reload();
    status = 200;
    expect(outcome.error).toMatch(/answered 503/);
    expect(holder.current.address_count).toBe(2);
    holder.stop();
  });
});
