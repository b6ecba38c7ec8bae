/**
 * Loads the sanctioned-address list from a folder of `sanctioned_addresses_<TICKER>.txt`
 * files or from http(s) URL(s), and keeps the current version in a holder that can be
 * reloaded without a restart (file watch, SIGHUP, admin endpoint, periodic refresh).
 *
 * A reload that fails or yields an empty list keeps the list in force and says so:
 * screening never runs without a list, and never silently on a broken one.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import {
  buildSanctionsList,
  LIST_FILE_PATTERN,
  SanctionsListError,
  type SanctionsList,
  type SanctionsListFile,
} from '../core/addresses.js';

export const SANCTIONS_FILE_BYTES_MAX = 32 * 1024 * 1024;
export const SANCTIONS_FILES_MAX = 256;
export const SANCTIONS_FETCH_TIMEOUT_MS = 30_000;

export function isUrlSource(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

async function readFolder(folder: string): Promise<SanctionsListFile[]> {
  const names = (await readdir(folder)).filter((n) => LIST_FILE_PATTERN.test(n)).sort();
  if (names.length === 0) throw new SanctionsListError(`no sanctioned_addresses_<TICKER>.txt files in ${folder}`);
  if (names.length > SANCTIONS_FILES_MAX)
    throw new SanctionsListError(`${names.length} list files in ${folder}; at most ${SANCTIONS_FILES_MAX}`);
  const files: SanctionsListFile[] = [];
  for (const name of names) {
    const file = path.join(folder, name);
    const { size } = await stat(file);
    if (size > SANCTIONS_FILE_BYTES_MAX) throw new SanctionsListError(`${file} is ${size} bytes; at most ${SANCTIONS_FILE_BYTES_MAX}`);
    files.push({ ticker: (LIST_FILE_PATTERN.exec(name) as RegExpExecArray)[1] as string, text: await readFile(file, 'utf8') });
  }
  return files;
}

/**
 * One URL: either a JSON object `{ "<TICKER>": ["address", ...] }`, or text with one
 * address per line whose ticker comes from a `sanctioned_addresses_<TICKER>.txt`
 * file name in the URL (else 'ANY').
 */
async function fetchUrl(url: string, timeout_ms: number): Promise<SanctionsListFile[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeout_ms), redirect: 'follow' });
  if (!response.ok) throw new SanctionsListError(`GET ${url} answered ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > SANCTIONS_FILE_BYTES_MAX)
    throw new SanctionsListError(`GET ${url}: ${declared} bytes; at most ${SANCTIONS_FILE_BYTES_MAX}`);
  const text = await response.text();
  if (text.length > SANCTIONS_FILE_BYTES_MAX) throw new SanctionsListError(`GET ${url}: body over ${SANCTIONS_FILE_BYTES_MAX} bytes`);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    const json: unknown = JSON.parse(trimmed);
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new SanctionsListError(`GET ${url}: expected an object of ticker → addresses`);
    return Object.entries(json as Record<string, unknown>).map(([ticker, addresses]) => {
      if (!/^[A-Z0-9]{1,16}$/.test(ticker) || !Array.isArray(addresses) || !addresses.every((a) => typeof a === 'string')) {
        throw new SanctionsListError(
          `GET ${url}: entry ${ticker.slice(0, 20)} must be an upper-case ticker with an array of address strings`,
        );
      }
      return { ticker, text: (addresses as string[]).join('\n') };
    });
  }
  const fileName = new URL(url).pathname.split('/').pop() ?? '';
  const ticker = LIST_FILE_PATTERN.exec(fileName)?.[1] ?? 'ANY';
  return [{ ticker, text }];
}

/** Loads a list from a folder, or from comma-separated URLs (their files are merged). */
export async function loadSanctionsList(source: string, opts: { now_ms?: number; fetch_timeout_ms?: number } = {}): Promise<SanctionsList> {
  const loaded_at_ms = opts.now_ms ?? Date.now();
  if (isUrlSource(source)) {
    const urls = source
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
    const files: SanctionsListFile[] = [];
    for (const url of urls) files.push(...(await fetchUrl(url, opts.fetch_timeout_ms ?? SANCTIONS_FETCH_TIMEOUT_MS)));
    return buildSanctionsList(files, { source, loaded_at_ms });
  }
  return buildSanctionsList(await readFolder(source), { source, loaded_at_ms });
}

export interface ReloadOutcome {
  changed: boolean;
  version: string;
  address_count: number;
  error?: string;
}

/**
 * The list in force. `reload()` swaps in a new version only when the content
 * changed (same content → same hash → the version and its load time are kept, so
 * decisions keep citing the list they were made with).
 */
export class SanctionsHolder {
  #current: SanctionsList;
  #reloading: Promise<ReloadOutcome> | null = null;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly source: string,
    initial: SanctionsList,
    private readonly onReload: (outcome: ReloadOutcome) => void,
  ) {
    this.#current = initial;
  }

  static async open(source: string, onReload: (outcome: ReloadOutcome) => void = () => {}): Promise<SanctionsHolder> {
    return new SanctionsHolder(source, await loadSanctionsList(source), onReload);
  }

  get current(): SanctionsList {
    return this.#current;
  }

  reload(): Promise<ReloadOutcome> {
    // One reload at a time; callers arriving meanwhile share its outcome.
    this.#reloading ??= this.#doReload().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  async #doReload(): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome;
    try {
      const next = await loadSanctionsList(this.source);
      const changed = next.content_sha256 !== this.#current.content_sha256;
      if (changed) this.#current = next;
      outcome = { changed, version: this.#current.version, address_count: this.#current.address_count };
    } catch (err) {
      outcome = {
        changed: false,
        version: this.#current.version,
        address_count: this.#current.address_count,
        error: err instanceof Error ? err.message : String(err),
      };
    }
    this.onReload(outcome);
    return outcome;
  }

  /** Reloads when a file in the source folder changes (debounced), or every refresh_ms for URLs. */
  startAutoReload(opts: { debounce_ms?: number; url_refresh_ms: number }): void {
    if (isUrlSource(this.source)) {
      if (opts.url_refresh_ms > 0) {
        this.#timer = setInterval(() => void this.reload(), opts.url_refresh_ms);
        this.#timer.unref();
      }
      return;
    }
    let pending: NodeJS.Timeout | null = null;
    this.#watcher = watch(this.source, { persistent: false }, () => {
      if (pending) clearTimeout(pending);
      pending = setTimeout(() => void this.reload(), opts.debounce_ms ?? 500);
      pending.unref();
    });
    this.#watcher.on('error', () => {
      // The folder went away: keep the list in force; SIGHUP or the admin endpoint can reload later.
      this.#watcher?.close();
      this.#watcher = null;
    });
  }

  stop(): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
