/**
 * Rules and sanctioned-names files: read, validated, and swapped in together on
 * reload. An invalid file on reload keeps the versions in force.
 */
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildNamesList, namesFileSchema, type NamesList } from '../core/names.js';
import { parseRules, type Rules } from '../core/rules.js';

export const DATA_DIR = fileURLToPath(new URL('../../data/', import.meta.url));
export const DEFAULT_SANCTIONS_SOURCE = `${DATA_DIR}ofac-sdn-digital-currency-addresses`;
export const DEFAULT_RULES_FILE = `${DATA_DIR}rules.json`;
export const DEFAULT_NAMES_FILE = `${DATA_DIR}sanctioned-names.json`;

export const REFERENCE_FILE_BYTES_MAX = 16 * 1024 * 1024;

async function readJson(file: string): Promise<unknown> {
  const { size } = await stat(file);
  if (size > REFERENCE_FILE_BYTES_MAX) throw new Error(`${file} is ${size} bytes; at most ${REFERENCE_FILE_BYTES_MAX}`);
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function loadRules(file: string): Promise<Rules> {
  return parseRules(await readJson(file), file);
}

export async function loadNames(file: string): Promise<NamesList> {
  const parsed = namesFileSchema.safeParse(await readJson(file));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new Error(`invalid sanctioned-names file ${file}:\n${problems}`);
  }
  return buildNamesList(parsed.data);
}

export interface RulesAndNames {
  rules: Rules;
  names: NamesList;
}

export class RulesHolder {
  #current: RulesAndNames;

  private constructor(
    readonly files: { rules_file: string; names_file: string },
    initial: RulesAndNames,
  ) {
    this.#current = initial;
  }

  static async open(files: { rules_file: string; names_file: string }): Promise<RulesHolder> {
    return new RulesHolder(files, { rules: await loadRules(files.rules_file), names: await loadNames(files.names_file) });
  }

  get current(): RulesAndNames {
    return this.#current;
  }

  /** Reads both files; swaps them in only if both are valid. */
  async reload(): Promise<{ rules_version: string; names_version: string; error?: string }> {
    try {
      const next = { rules: await loadRules(this.files.rules_file), names: await loadNames(this.files.names_file) };
      this.#current = next;
    } catch (err) {
      return {
        rules_version: this.#current.rules.rules_version,
        names_version: this.#current.names.version,
        error: err instanceof Error ? err.message : String(err),
      };
    }
    return { rules_version: this.#current.rules.rules_version, names_version: this.#current.names.version };
  }
}
