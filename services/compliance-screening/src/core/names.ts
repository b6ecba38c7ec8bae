/**
 * Sanctioned names: fuzzy matching of counterparty names against a names list.
 *
 * Both sides are folded the same way (Unicode NFKD, diacritics stripped, a few
 * letters without decomposition mapped, lower case, punctuation → space, legal
 * forms and filler words dropped), then scored with Jaro-Winkler two ways:
 *  - whole name, in the given order and with tokens sorted (so "Group Lazarus"
 *    matches "Lazarus Group");
 *  - token containment, for list names of two or more tokens: every token of the
 *    listed name must be found (fuzzily) among the counterparty's tokens, so
 *    "Tornado Cash Fund Management" still matches "Tornado Cash".
 * A whole-name score only counts when every listed token also has a close partner
 * (token_score_min), which keeps names that share a prefix but differ in a word
 * ("Tornado Capital" vs "Tornado Cash") apart. Single-token list names only match
 * the whole counterparty name, so a common word inside a longer name ("Hydra
 * Plumbing") does not hit "Hydra".
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
  ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ð: 'd', ł: 'l', þ: 'th', ı: 'i', ħ: 'h', ŧ: 't',
};

// Legal forms and filler words: noise for matching, present on both sides at random.
const DROPPED_TOKENS = new Set([
  'the', 'and', 'of', 'a', 'an',
  'llc', 'ltd', 'limited', 'inc', 'incorporated', 'corp', 'corporation', 'co', 'company',
  'gmbh', 'ag', 'sa', 'sas', 'sarl', 'srl', 'spa', 'bv', 'nv', 'plc', 'lp', 'llp', 'pte',
  'ou', 'sro', 'as', 'oy', 'ab', 'sia', 'uab', 'fzc', 'fze', 'dmcc', 'ooo', 'zao', 'oao', 'pjsc', 'jsc',
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
  return { list_id: file.list_id, version: file.version, names };
}

/** For each listed token, the closest counterparty token (each used once), min over listed tokens. */
function tokenCoverage(listed: string[], query: string[]): number {
  const used = new Array<boolean>(query.length).fill(false);
  let worst = 1;
  for (const token of listed) {
    let best = 0;
    let best_index = -1;
    for (let i = 0; i < query.length; i++) {
      if (used[i]) continue;
      const score = jaroWinkler(token, query[i] as string);
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

/** Best match of `name` in the list at or above the thresholds, or null. */
export function matchName(list: NamesList, name: string | null, opts: NameMatchOptions): NameMatch | null {
  if (name === null) return null;
  const query = nameTokens(name);
  if (query.length === 0) return null;
  const joined = query.join(' ');
  const sorted_joined = [...query].sort().join(' ');
  let best: NameMatch | null = null;
  for (const candidate of list.names) {
    const coverage = tokenCoverage(candidate.tokens, query);
    let score = 0;
    let method: NameMatch['method'] = 'whole';
    if (coverage >= opts.token_score_min) {
      score = Math.max(jaroWinkler(candidate.joined, joined), jaroWinkler(candidate.sorted_joined, sorted_joined));
    }
    if (candidate.tokens.length >= 2 && query.length > candidate.tokens.length && coverage >= opts.containment_token_score_min && coverage > score) {
      score = coverage;
      method = 'containment';
    }
    if (score >= opts.score_min && (best === null || score > best.score)) {
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
