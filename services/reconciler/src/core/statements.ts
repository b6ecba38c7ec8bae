/**
 * The statements API's page (DESIGN 3.5), validated strictly enough that nothing odd
 * reaches the comparison: amounts are decimal strings within the platform's limits,
 * statuses and directions are the documented vocabulary, instants are ISO-8601.
 * Extra fields are tolerated (providers add fields); missing or malformed ones are not.
 */
import { z } from 'zod';
import { amountProblem } from '@tidemark/common/money';
import { LIMITS, type ProviderRecord } from './model.js';
import { parseInstant } from './window.js';

export class StatementFormatError extends Error {
  override readonly name = 'StatementFormatError';
}

const id = (max: number) => z.string().min(1).max(max);

const itemSchema = z.looseObject({
  transaction_id: id(LIMITS.identifier_length_max),
  wallet_id: id(LIMITS.identifier_length_max),
  asset: id(LIMITS.asset_length_max),
  amount: z.string().superRefine((value, ctx) => {
    const problem = amountProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  direction: z.enum(['in', 'out']),
  status: z.enum(['pending', 'confirmed', 'failed', 'reversed']),
  updated_at: z.string().min(1).max(64),
});

const pageSchema = z.looseObject({
  data: z.array(z.unknown()).max(LIMITS.page_items_max),
  next_cursor: z.string().max(4_096).nullable().optional(),
});

export interface StatementPage {
  records: ProviderRecord[];
  next_cursor: string | null;
}

/** Validates one page body; the error names the item and field that is wrong. */
export function parseStatementPage(body: unknown): StatementPage {
  const page = pageSchema.safeParse(body);
  if (!page.success) {
    throw new StatementFormatError(`statements page is malformed: ${describeIssues(page.error.issues)}`);
  }
  const records: ProviderRecord[] = [];
  page.data.data.forEach((raw, index) => {
    const item = itemSchema.safeParse(raw);
    if (!item.success) {
      const txid =
        typeof (raw as { transaction_id?: unknown })?.transaction_id === 'string'
          ? ` (${(raw as { transaction_id: string }).transaction_id})`
          : '';
      throw new StatementFormatError(`statements item ${index}${txid} is invalid: ${describeIssues(item.error.issues)}`);
    }
    const v = item.data;
    let updated_at_ms: number;
    try {
      updated_at_ms = parseInstant(v.updated_at, `item ${index} updated_at`);
    } catch (err) {
      throw new StatementFormatError(`statements item ${index} (${v.transaction_id}) is invalid: ${(err as Error).message}`);
    }
    records.push({
      transaction_id: v.transaction_id,
      wallet_id: v.wallet_id,
      asset: v.asset,
      amount: v.amount,
      direction: v.direction,
      status: v.status,
      updated_at: v.updated_at,
      updated_at_ms,
    });
  });
  const next = page.data.next_cursor ?? null;
  return { records, next_cursor: next === '' ? null : next };
}

function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * The dedupe rule for records seen more than once (at-least-once paging): the one with
 * the latest `updated_at` wins; on a tie the one seen later (higher `seq`) wins, since a
 * later page reflects a later read of the provider's books.
 */
export function supersedes(candidate: { updated_at_ms: number; seq: number }, current: { updated_at_ms: number; seq: number }): boolean {
  if (candidate.updated_at_ms !== current.updated_at_ms) return candidate.updated_at_ms > current.updated_at_ms;
  return candidate.seq > current.seq;
}

/** Dedupes a batch by transaction id under `supersedes`, keeping first-seen order of ids. */
export function dedupeBatch<T extends { transaction_id: string; updated_at_ms: number; seq: number }>(
  items: readonly T[],
): { kept: T[]; dropped: number } {
  const byId = new Map<string, T>();
  for (const item of items) {
    const current = byId.get(item.transaction_id);
    if (current === undefined || supersedes(item, current)) byId.set(item.transaction_id, item);
  }
  return { kept: [...byId.values()], dropped: items.length - byId.size };
}
