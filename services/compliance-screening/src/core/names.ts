/**
 * Sanctioned names: fuzzy matching of counterparty names against a names list.
 *
 * Both sides are folded the same way (Unicode NFKD, diacritics stripped, a few
 * letters without decomposition mapped, lower case, punctuation → space, legal
 * forms and filler words dropped), then scored with Jaro-Winkler (see matchName).
 * Jaro-Winkler rewards a shared prefix, so a whole-name score alone would let
 * "Tornado Capital" hit "Tornado Cash" or "Blender Studio" hit "Blender": every
 * token must also have a close partner, and one word is never matched inside a
 * longer name. Cross-script names (Cyrillic vs Latin) are not transliterated.
 */
import jaroWinkler from 'jaro-winkler';
import { z } from 'zod';

export const NAME_LENGTH_MAX = 256;
export const NAME_TOKENS_MAX = 16;
export const NAMES_ENTRIES_MAX = 100_000;

export const namesFileSchema = z.object({
  list_id: z.string().min(1),
  version: z.string().min(1),
  description: z.string().optional(),
  entries: z
    .array(
      z.object({
        id: z.string().min(1),
        name: z.string().min(1).max(NAME_LENGTH_MAX),
        aliases: z.array(z.string().min(1).max(NAME_LENGTH_MAX)).default([]),
        type: z.enum(['entity', 'individual', 'group']).default('entity'),
        programs: z.array(z.string()).default([]),
        source: z.string().optional(),
      }),
    )
    .min(1)
    .max(NAMES_ENTRIES_MAX),
  /**
   * Known false positives, cleared by compliance ("good guys" list): a counterparty
   * whose folded name equals `name` is not matched against entry `entry_id`.
   */
  cleared: z
    .array(z.object({ name: z.string().min(1).max(NAME_LENGTH_MAX), entry_id: z.string().min(1), reason: z.string().min(1) }))
    .max(NAMES_ENTRIES_MAX)
    .default([]),
});
export type NamesFile = z.infer<typeof namesFileSchema>;

interface PreparedName {
  entry_id: string;
  listed: string;
  tokens: string[];
  joined: string;
  sorted_joined: string;
}

export interface NamesList {
  list_id: string;
  version: string;
  names: PreparedName[];
  /** '<folded name>\u0000<entry_id>' of cleared false positives. */
  cleared: ReadonlySet<string>;
}

export interface NameMatchOptions {
  /** Minimum score for a match (0..1). */
  score_min: number;
  /** Every listed token needs a counterparty token at least this close (0..1). */
  token_score_min: number;
  /** Token containment (multi-token list names) needs every token at least this close. */
  containment_token_score_min: number;
}

export interface NameMatch {
  entry_id: string;
  listed: string;
  score: number;
  method: 'whole' | 'containment';
}

// Letters NFKD does not decompose into base + combining mark.
const EXTRA_FOLDS: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  đ: 'd',
  ð: 'd',
  ł: 'l',
  þ: 'th',
  ı: 'i',
  ħ: 'h',
  ŧ: 't',
};

// Legal forms and filler words: noise for matching, present on both sides at random.
const DROPPED_TOKENS = new Set([
  'the',
  'and',
  'of',
  'a',
  'an',
  'llc',
  'ltd',
  'limited',
  'inc',
  'incorporated',
  'corp',
  'corporation',
  'co',
  'company',
  'gmbh',
  'ag',
  'sa',
  'sas',
  'sarl',
  'srl',
  'spa',
  'bv',
  'nv',
  'plc',
  'lp',
  'llp',
  'pte',
  'ou',
  'sro',
  'as',
  'oy',
  'ab',
  'sia',
  'uab',
  'fzc',
  'fze',
  'dmcc',
  'ooo',
  'zao',
  'oao',
  'pjsc',
  'jsc',
]);

/** Folds a name to lower-case ASCII-ish tokens; limits the size of what it looks at. */
export function nameTokens(raw: string): string[] {
  const folded = raw
    .slice(0, NAME_LENGTH_MAX)
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[ßæœøđðłþıħŧ]/g, (c) => EXTRA_FOLDS[c] ?? c)
    // "s.r.o." / "o.o.o." → one token before punctuation becomes a separator
    .replace(/\b(\p{L})\.(?=\p{L}\.)/gu, '$1')
    .replace(/(?<=\p{L})\.(?=\s|$)/gu, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
  if (folded === '') return [];
  const tokens = folded.split(' ').filter((t) => !DROPPED_TOKENS.has(t));
  return tokens.slice(0, NAME_TOKENS_MAX);
}

function prepare(entry_id: string, listed: string): PreparedName | null {
  const tokens = nameTokens(listed);
  if (tokens.length === 0) return null;
  return { entry_id, listed, tokens, joined: tokens.join(' '), sorted_joined: [...tokens].sort().join(' ') };
}

export function buildNamesList(file: NamesFile): NamesList {
  const names: PreparedName[] = [];
  for (const entry of file.entries) {
    for (const listed of [entry.name, ...entry.aliases]) {
      const prepared = prepare(entry.id, listed);
      if (prepared) names.push(prepared);
    }
  }
  if (names.length === 0) throw new Error(`names list ${file.list_id} has no usable names`);
  const ids = new Set(file.entries.map((e) => e.id));
  const cleared = new Set<string>();
  for (const c of file.cleared) {
    if (!ids.has(c.entry_id)) throw new Error(`names list ${file.list_id}: cleared name ${c.name} refers to unknown entry ${c.entry_id}`);
    cleared.add(`${nameTokens(c.name).join(' ')}\u0000${c.entry_id}`);
  }
  return { list_id: file.list_id, version: file.version, names, cleared };
}

/** For each token of `small`, the closest token of `large` (each used once); the minimum over `small`. */
function tokenCoverage(small: string[], large: string[]): number {
  const used = new Array<boolean>(large.length).fill(false);
  let worst = 1;
  for (const token of small) {
    let best = 0;
    let best_index = -1;
    for (let i = 0; i < large.length; i++) {
      if (used[i]) continue;
      const score = jaroWinkler(token, large[i] as string);
      if (score > best) {
        best = score;
        best_index = i;
      }
    }
    if (best_index >= 0) used[best_index] = true;
    worst = Math.min(worst, best);
    if (worst === 0) break;
  }
  return worst;
}

/** Score of one counterparty name (tokens) against one listed name, with the method that produced it. */
function scoreCandidate(
  candidate: PreparedName,
  query: string[],
  joined: string,
  sorted_joined: string,
  opts: NameMatchOptions,
): { score: number; method: NameMatch['method'] } {
  if (candidate.tokens.length === query.length) {
    if (tokenCoverage(candidate.tokens, query) < opts.token_score_min) return { score: 0, method: 'whole' };
    return { score: Math.max(jaroWinkler(candidate.joined, joined), jaroWinkler(candidate.sorted_joined, sorted_joined)), method: 'whole' };
  }
  const [small, large] = candidate.tokens.length < query.length ? [candidate.tokens, query] : [query, candidate.tokens];
  if (small.length < 2) return { score: 0, method: 'containment' };
  const coverage = tokenCoverage(small, large);
  return { score: coverage >= opts.containment_token_score_min ? coverage : 0, method: 'containment' };
}

/**
 * Best match of `name` in the list at or above `score_min`, or null.
 *  - same number of tokens: Jaro-Winkler of the whole name, as given and with
 *    tokens sorted, counted only when every token has a partner at least
 *    token_score_min close;
 *  - different numbers of tokens (both at least two): containment — every token
 *    of the shorter name is found among the longer one's at least
 *    containment_token_score_min close ("Tornado Cash Fund" ⊃ "Tornado Cash",
 *    "Sergey Ivanov" ⊂ "Sergey Sergeevich Ivanov"). A single word is never
 *    matched inside a longer name, so "Blender Studio" does not hit "Blender.io".
 */
export function matchName(list: NamesList, name: string | null, opts: NameMatchOptions): NameMatch | null {
  if (name === null) return null;
  const query = nameTokens(name);
  if (query.length === 0) return null;
  const joined = query.join(' ');
  const sorted_joined = [...query].sort().join(' ');
  let best: NameMatch | null = null;
  for (const candidate of list.names) {
    if (list.cleared.has(`${joined}\u0000${candidate.entry_id}`)) continue;
    const { score, method } = scoreCandidate(candidate, query, joined, sorted_joined, opts);
    if (
      score >= opts.score_min &&
      (best === null || score > best.score || (score === best.score && method === 'whole' && best.method !== 'whole'))
    ) {
      best = { entry_id: candidate.entry_id, listed: candidate.listed, score, method };
    }
  }
  return best;
}

/** Scores are reported as decimal strings with 4 decimals (they are ratios, not money). */
export function formatScore(score: number): string {
  if (!(score >= 0 && score <= 1)) throw new RangeError(`score ${score} outside 0..1`);
  return (Math.floor(score * 10_000) / 10_000).toFixed(4);
}
