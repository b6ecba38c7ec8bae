import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRepoRoot, resolveStateDir, statePaths } from './paths.js';

describe('state paths', () => {
  it('finds the repo root by the package named "tidemark", skipping workspace package.jsons', () => {
    const root = mkdtempSync(join(tmpdir(), 'tm-root-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'tidemark' }));
    const nested = join(root, 'deploy', 'local', 'src');
    mkdirSync(nested, { recursive: true });
    writeFileSync(join(root, 'deploy', 'local', 'package.json'), JSON.stringify({ name: '@tidemark/local-infra' }));
    expect(findRepoRoot(nested)).toBe(root);
    expect(resolveStateDir({}, nested)).toBe(join(root, '.tidemark'));
  });

  it('finds this repository from the module itself', () => {
    const root = findRepoRoot();
    expect(root).not.toBeNull();
    expect(resolveStateDir({})).toBe(join(root!, '.tidemark'));
  });

  it('TIDEMARK_STATE_DIR overrides the location', () => {
    expect(resolveStateDir({ TIDEMARK_STATE_DIR: '/tmp/elsewhere' })).toBe('/tmp/elsewhere');
  });

  it('lays out cache, data, logs and pid files per component', () => {
    const p = statePaths('/s');
    expect(p.cache_dir).toBe('/s/cache');
    expect(p.data('postgres')).toBe('/s/data/postgres');
    expect(p.log('kafka')).toBe('/s/logs/kafka.log');
    expect(p.pid('apicurio')).toBe('/s/run/apicurio.pid');
    expect(p.kafka_libs).toBe('/s/cache/kafka-4.4.0/libs');
    expect(p.pg_socket_dir.startsWith('/s/run/')).toBe(true);
    expect(p.jaeger_binary.startsWith('/s/cache/')).toBe(true);
  });
});
