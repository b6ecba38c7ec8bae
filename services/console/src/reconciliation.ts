/**
 * Reconciliation from the console, without a second implementation: a run is the
 * operator CLI's own `tidemark reconcile ... --json` (the reconciler's runReconciliation,
 * its audit records, its JSON report), started as a child process; past runs are the
 * JSON reports it writes to TIDEMARK_RECONCILE_REPORTS_DIR.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO_ROOT, 'bin', 'tidemark.mjs');

/** Jobs remembered (running and finished), at most. */
export const JOBS_MAX = 100;
export const REPORTS_LISTED_MAX = 50;
/** Largest report file the console parses (bigger ones are listed, not opened). */
export const REPORT_BYTES_MAX = 32 * 1024 * 1024;
const OUTPUT_BYTES_MAX = 1024 * 1024;

export interface ReconcileJob {
  job_id: string;
  provider: string;
  since: string;
  until: string | null;
  heal: boolean;
  actor: string;
  started_at: string;
  state: 'running' | 'finished' | 'failed';
  exit_code: number | null;
  run_id: string | null;
  report_file: string | null;
  /** The CLI's message when it could not run. */
  error: string | null;
}

export interface ReportSummary {
  file: string;
  run_id: string;
  provider: string;
  window: { since: string; until: string };
  started_at: string;
  verdict: string;
  ok: boolean;
  discrepancies_total: number;
  discrepancy_counts: Record<string, number>;
  heal: { enabled?: boolean; emitted?: number } & Record<string, unknown>;
  matching: { compared: number; matched: number; mismatched: number };
}

export interface ReportFinding {
  kind: string;
  transaction_id: string | null;
  wallet_id: string | null;
  asset: string | null;
  ledger_value: string | null;
  provider_value: string | null;
  detail: string;
}

export type Report = ReportSummary & { discrepancies: ReportFinding[] };

export class Reconciliations {
  private readonly jobs = new Map<string, ReconcileJob>();
  readonly reports_dir: string;

  constructor(
    reports_dir: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.reports_dir = isAbsolute(reports_dir) ? reports_dir : resolve(REPO_ROOT, reports_dir);
  }

  /** Starts `tidemark reconcile`; resolves once it is spawned (follow the job for its outcome). */
  start(opts: { provider: string; since: string; until?: string; heal: boolean; actor: string }): ReconcileJob {
    while (this.jobs.size >= JOBS_MAX) {
      const oldest = [...this.jobs.values()].find((j) => j.state !== 'running');
      if (!oldest) throw new Error(`${JOBS_MAX} reconciliations are running; wait for one to finish`);
      this.jobs.delete(oldest.job_id);
    }
    const job: ReconcileJob = {
      job_id: `job-${randomBytes(6).toString('hex')}`,
      provider: opts.provider,
      since: opts.since,
      until: opts.until ?? null,
      heal: opts.heal,
      actor: opts.actor,
      started_at: new Date().toISOString(),
      state: 'running',
      exit_code: null,
      run_id: null,
      report_file: null,
      error: null,
    };
    this.jobs.set(job.job_id, job);
    const args = [
      CLI,
      'reconcile',
      '--provider',
      opts.provider,
      '--since',
      opts.since,
      '--json',
      '--report',
      join(this.reports_dir, 'reconcile-{run_id}.json'),
    ];
    if (opts.until) args.push('--until', opts.until);
    if (opts.heal) args.push('--heal');
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...this.env, TIDEMARK_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_BYTES_MAX) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < OUTPUT_BYTES_MAX) stderr += chunk.toString('utf8');
    });
    child.on('error', (err) => {
      job.state = 'failed';
      job.error = err.message;
    });
    child.on('close', (code) => {
      job.exit_code = code;
      try {
        const parsed = JSON.parse(stdout) as { run_id?: string; report_path?: string };
        job.run_id = parsed.run_id ?? null;
        job.report_file = parsed.report_path ? (parsed.report_path.split('/').pop() ?? null) : null;
      } catch {
        /* no JSON: the run did not happen */
      }
      job.state = code === 0 || code === 1 ? 'finished' : 'failed';
      if (job.state === 'failed') job.error = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500) || `exit code ${code}`;
    });
    return job;
  }

  job(id: string): ReconcileJob | null {
    return this.jobs.get(id) ?? null;
  }

  listJobs(): ReconcileJob[] {
    return [...this.jobs.values()].reverse();
  }

  /** The newest reports (summary only), newest first. */
  async listReports(): Promise<ReportSummary[]> {
    const files = await this.reportFiles();
    const out: ReportSummary[] = [];
    for (const file of files.slice(0, REPORTS_LISTED_MAX)) {
      const report = await this.readReport(file).catch(() => null);
      if (report) {
        const { discrepancies: _all, ...summary } = report;
        out.push(summary);
      }
    }
    return out;
  }

  /** A report by file name (only `reconcile-*.json` inside the reports folder). */
  async readReport(file: string): Promise<Report | null> {
    if (!/^reconcile-[A-Za-z0-9_.-]+\.json$/.test(file)) return null;
    const path = join(this.reports_dir, file);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile() || info.size > REPORT_BYTES_MAX) return null;
    const handle = await open(path, 'r');
    try {
      const parsed = JSON.parse(await handle.readFile('utf8')) as Omit<Report, 'file'>;
      return { ...parsed, file, discrepancies: parsed.discrepancies ?? [] };
    } finally {
      await handle.close();
    }
  }

  /** Findings about one transaction in the newest reports. */
  async findingsFor(
    provider: string,
    transaction_id: string,
    reports_max = 20,
  ): Promise<Array<ReportFinding & { run_id: string; file: string }>> {
    const out: Array<ReportFinding & { run_id: string; file: string }> = [];
    for (const file of (await this.reportFiles()).slice(0, reports_max)) {
      const report = await this.readReport(file).catch(() => null);
      if (!report || report.provider !== provider) continue;
      for (const f of report.discrepancies) if (f.transaction_id === transaction_id) out.push({ ...f, run_id: report.run_id, file });
    }
    return out;
  }

  private async reportFiles(): Promise<string[]> {
    const names = await readdir(this.reports_dir).catch(() => [] as string[]);
    const files = names.filter((n) => /^reconcile-[A-Za-z0-9_.-]+\.json$/.test(n));
    const stats = await Promise.all(
      files.map(async (f) => ({ f, at: (await stat(join(this.reports_dir, f)).catch(() => null))?.mtimeMs ?? 0 })),
    );
    return stats.sort((a, b) => b.at - a.at).map((s) => s.f);
  }
}
