/**
 * `npx tidemark dlq list|show|replay|purge`: the CLI's entry point (apps/cli calls
 * `dlqCli(action, opts)` with commander's options). Exit codes: 0 done, 1 nothing
 * matched / not found, 2 could not run.
 */
import { baseConfigSchema, createLogger, loadConfig } from '@tidemark/common';
import {
  listDeadLetters,
  openDlqContext,
  parseDeadLetterId,
  purgeDeadLetters,
  replayDeadLetters,
  showDeadLetter,
  DLQ_LIST_LIMIT_DEFAULT,
  type DeadLetterEntry,
  type DlqFilter,
} from './ops.js';

export type DlqAction = 'list' | 'show' | 'replay' | 'purge';

interface CliOptions {
  id?: string;
  service?: string;
  key?: string;
  error?: string;
  since?: string;
  until?: string;
  limit?: number;
  json?: boolean;
  force?: boolean;
  truncate?: boolean;
  actor?: string;
  dryRun?: boolean;
}

export async function dlqCli(action: string, raw: Record<string, unknown>, out: (line: string) => void = console.log): Promise<number> {
  const opts = raw as CliOptions;
  const config = loadConfig(baseConfigSchema);
  const logger = createLogger('operator', process.env.TIDEMARK_LOG_LEVEL ?? 'warn');
  const ctx = await openDlqContext(config, logger);
  try {
    const filter = toFilter(opts);
    const actor = opts.actor ?? process.env.TIDEMARK_OPERATOR ?? process.env.USER ?? 'operator';
    switch (action as DlqAction) {
      case 'list': {
        const { entries, complete } = await listDeadLetters(ctx, filter);
        if (opts.json) out(JSON.stringify({ entries: entries.map(withoutPayload), complete }, null, 2));
        else {
          out(table(entries));
          if (!complete) out(`(more may exist: raise --limit or narrow the filters)`);
        }
        return 0;
      }
      case 'show': {
        if (!opts.id) throw new Error('dlq show needs an id (see dlq list)');
        const entry = await showDeadLetter(ctx, parseDeadLetterId(opts.id));
        if (!entry) {
          out(opts.json ? JSON.stringify({ error: 'not_found', id: opts.id }) : `dead letter ${opts.id} not found`);
          return 1;
        }
        out(opts.json ? JSON.stringify(entry, null, 2) : describe(entry));
        return 0;
      }
      case 'replay': {
        const refs = opts.id ? [parseDeadLetterId(opts.id)] : undefined;
        if (!refs && !hasFilter(opts))
          throw new Error('dlq replay needs an id or at least one filter (--service, --key, --error, --since, --until)');
        const report = await replayDeadLetters(ctx, { refs, filter, actor, force: opts.force === true, dry_run: opts.dryRun === true });
        if (opts.json) out(JSON.stringify(report, null, 2));
        else {
          for (const r of report.replayed) out(`replayed ${r.id} -> ${r.to_topic}`);
          for (const s of report.skipped) out(`skipped  ${s.id}: ${s.reason}`);
          out(`${report.replayed.length} replayed, ${report.skipped.length} skipped`);
        }
        return report.replayed.length > 0 || report.skipped.length > 0 ? 0 : 1;
      }
      case 'purge': {
        const refs = opts.id ? [parseDeadLetterId(opts.id)] : undefined;
        const report = await purgeDeadLetters(ctx, {
          refs,
          filter,
          actor,
          dry_run: opts.dryRun === true,
          truncate: opts.truncate === true,
        });
        if (opts.json) out(JSON.stringify(report, null, 2));
        else {
          for (const id of report.purged) out(`purged   ${id}`);
          for (const s of report.skipped) out(`skipped  ${s.id}: ${s.reason}`);
          for (const t of report.truncated) out(`deleted  ${t.dlq_topic}/${t.partition} before offset ${t.before_offset}`);
          out(`${report.purged.length} purged, ${report.skipped.length} skipped`);
        }
        return report.purged.length > 0 || report.skipped.length > 0 ? 0 : 1;
      }
      default:
        throw new Error(`unknown dlq action ${action}; use list, show, replay or purge`);
    }
  } catch (err) {
    const message = (err as Error).message;
    out(opts.json ? JSON.stringify({ error: 'dlq_failed', message }) : `dlq ${action} failed: ${message}`);
    return 2;
  } finally {
    await ctx.close();
  }
}

function toFilter(o: CliOptions): DlqFilter {
  const time = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw new Error(`--${name} must be an ISO-8601 time, got ${v}`);
    return ms;
  };
  return {
    service: o.service,
    key: o.key,
    error_contains: o.error,
    since_ms: time('since', o.since),
    until_ms: time('until', o.until),
    limit: o.limit ?? DLQ_LIST_LIMIT_DEFAULT,
  };
}

function hasFilter(o: CliOptions): boolean {
  return [o.service, o.key, o.error, o.since, o.until].some((v) => v !== undefined);
}

function withoutPayload(e: DeadLetterEntry) {
  const { payload_base64: _p, error_stack: _s, ...rest } = e;
  return rest;
}

function table(entries: DeadLetterEntry[]): string {
  if (entries.length === 0) return 'no dead letters match';
  const rows = entries.map((e) => [
    e.id,
    e.state,
    e.error_class,
    String(e.attempts),
    e.key ?? '-',
    e.last_failure_at,
    e.error_message.slice(0, 80),
  ]);
  const head = ['ID', 'STATE', 'CLASS', 'ATTEMPTS', 'KEY', 'LAST FAILURE', 'ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function describe(e: DeadLetterEntry): string {
  const lines = [
    `id:              ${e.id} (${e.state})`,
    `service:         ${e.service}`,
    `original:        ${e.original_topic}/${e.original_partition}/${e.original_offset}`,
    `key:             ${e.key ?? '-'}`,
    `error:           ${e.error_class}: ${e.error_message}`,
    `attempts:        ${e.attempts}`,
    `first failure:   ${e.first_failure_at}`,
    `last failure:    ${e.last_failure_at}`,
    `dead-lettered:   ${e.dead_lettered_at}`,
    `traceparent:     ${e.traceparent ?? '-'}`,
    `headers:         ${JSON.stringify(e.headers)}`,
    `payload:         ${e.payload_bytes} bytes${e.value === null ? ' (does not decode; base64 in --json)' : ''}`,
  ];
  if (e.value !== null) lines.push(`value:           ${JSON.stringify(e.value, null, 2).replace(/\n/g, '\n                 ')}`);
  if (e.error_stack) lines.push(`stack:\n  ${e.error_stack.replace(/\n/g, '\n  ')}`);
  return lines.join('\n');
}
