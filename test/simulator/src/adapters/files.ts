/** File adapters: the bundled sanctions snapshot and scenario files. */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAddressList, type SanctionsSnapshot } from '../core/sanctions.js';
import { parseScenario, type Scenario } from '../core/scenario.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SIMULATOR_ROOT = resolve(HERE, '..', '..');
export const DEFAULT_SANCTIONS_DIR = join(SIMULATOR_ROOT, 'data', 'ofac-sdn-digital-currency-addresses');
export const SCENARIOS_DIR = join(SIMULATOR_ROOT, 'scenarios');

const FILE_PATTERN = /^sanctioned_addresses_([A-Z0-9]+)\.txt$/;

/** Reads `sanctioned_addresses_<TICKER>.txt` files (one address per line). */
export function loadSanctionsSnapshot(dir: string = DEFAULT_SANCTIONS_DIR): SanctionsSnapshot {
  const snapshot: Record<string, string[]> = {};
  for (const name of readdirSync(dir).sort()) {
    const match = FILE_PATTERN.exec(name);
    if (!match) continue;
    snapshot[match[1]!] = parseAddressList(readFileSync(join(dir, name), 'utf8'));
  }
  if (Object.keys(snapshot).length === 0) throw new Error(`no sanctioned_addresses_<TICKER>.txt files in ${dir}`);
  return snapshot;
}

/** Loads a scenario by path, or by name from test/simulator/scenarios (`demo` → demo.json). */
export function loadScenario(name_or_path: string): Scenario {
  const path = /[/\\]|\.json$/.test(name_or_path) ? resolve(name_or_path) : join(SCENARIOS_DIR, `${name_or_path}.json`);
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read scenario ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`scenario ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(parsed, path);
}
