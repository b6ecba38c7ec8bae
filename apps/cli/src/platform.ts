/**
 * Runs Tidemark's services as supervised child processes: used by `npm start`, the
 * end-to-end and chaos suites and the benchmarks. Each process logs to
 * `.tidemark/logs/<name>.log`; `kill` can deliver SIGKILL for crash tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { threadpoolEnv } from '@tidemark/common/kafka-confluent';
import { localKafkaClientEnv } from '@tidemark/local-infra';
import { repoRoot } from './paths.js';

export type ServiceName = 'ingress' | 'dedupe' | 'compliance-screening' | 'ledger-projector' | 'risk-api' | 'console';

export interface ProcessSpec {
  /** Unique name, e.g. 'dedupe' or 'dedupe#2'. */
  name: string;
  /** Entry file relative to the repo root. */
  entry: string;
  args?: string[];
  /** Its environment on top of the Platform's; a process gets `TIDEMARK_DATABASE_URL` only from here. */
  env?: Record<string, string>;
  /**
   * The process's own Kafka principal (e.g. `tidemark-dedupe`): against the local infrastructure its SCRAM
   * credentials and CA replace whatever Kafka credentials the environment carries; elsewhere the environment's stay.
   */
  kafka_principal?: string;
  /**
   * Started again when it exits with a failure (any exit but 0 that `stop` did not ask for), as a
   * supervisor would: the stream runtime ends an instance it cannot repair (exit 70) for a restart.
   */
  restart_on_failure?: boolean;
}

/** The Kafka principal of a service (the console's: its dead-letter actions), or none for the risk API (no Kafka). */
export function kafkaPrincipalOf(service: ServiceName): string | undefined {
  return service === 'risk-api' ? undefined : `tidemark-${service}`;
}

/**
 * The console's settings for the reconciliations it starts: they run as the reconciler's Kafka principal (the
 * console's own may only work dead letters). Against the local infrastructure its credentials; elsewhere none.
 */
export function consoleReconcilerKafkaEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const kafka = localKafkaClientEnv('tidemark-reconciler', env);
  if (!kafka?.TIDEMARK_KAFKA_SASL_USERNAME || !kafka.TIDEMARK_KAFKA_SASL_PASSWORD) return {};
  return {
    TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME: kafka.TIDEMARK_KAFKA_SASL_USERNAME,
    TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD: kafka.TIDEMARK_KAFKA_SASL_PASSWORD,
  };
}

export const SERVICE_ENTRIES: Record<ServiceName, string> = {
  ingress: 'services/ingress/src/main.ts',
  dedupe: 'services/dedupe/src/main.ts',
  'compliance-screening': 'services/compliance-screening/src/main.ts',
  'ledger-projector': 'services/ledger-projector/src/main.ts',
  'risk-api': 'services/compliance-screening/src/fake-risk-api/main.ts',
  console: 'services/console/src/main.ts',
};

/**
 * A started process's environment: the parent's, the Platform's, then the spec's; its own Kafka principal's
 * credentials against the local infrastructure. Least privilege: `TIDEMARK_DATABASE_URL` only where the spec gives
 * one (its own role's), never the admin's by inheritance (ingress and the risk API get none).
 */
export function processEnv(parent: NodeJS.ProcessEnv, base_env: Record<string, string>, spec: ProcessSpec): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...parent, ...base_env, ...spec.env };
  if (spec.env?.TIDEMARK_DATABASE_URL === undefined) delete env.TIDEMARK_DATABASE_URL;
  const kafka = spec.kafka_principal ? localKafkaClientEnv(spec.kafka_principal, env) : null;
  return kafka ? { ...env, ...kafka } : env;
}

interface Running {
  spec: ProcessSpec;
  child: ChildProcess;
  log: WriteStream;
  exited: Promise<number | null>;
}

/** Wait before a failed process is started again (a crash loop costs one start per interval). */
export const RESTART_DELAY_MS = 2_000;

export class Platform {
  private readonly running = new Map<string, Running>();
  /** Processes `stop` was asked to end: their exit is no failure. */
  private readonly stopping = new Set<string>();
  /** Failed processes waiting for their restart. */
  private readonly restarts = new Map<string, NodeJS.Timeout>();
  readonly log_dir: string;
  /** How each process last exited (code, or the signal that ended it). */
  private readonly exits = new Map<string, { code: number | null; signal: NodeJS.Signals | null }>();
  /** Called when a process that failed is started again, with how it exited (`lastExit`). */
  onRestart: (name: string, exit: string) => void = () => undefined;

  constructor(
    readonly base_env: Record<string, string>,
    log_dir?: string,
  ) {
    this.log_dir = log_dir ?? join(repoRoot(), '.tidemark', 'logs');
    mkdirSync(this.log_dir, { recursive: true });
  }

  start(spec: ProcessSpec): ChildProcess {
    if (this.running.has(spec.name)) throw new Error(`${spec.name} is already running`);
    const root = repoRoot();
    const log = createWriteStream(join(this.log_dir, `${spec.name.replace(/[^a-zA-Z0-9_.-]/g, '_')}.log`), { flags: 'a' });
    // TIDEMARK_CPU_PROF_DIR: every started process writes a V8 CPU profile there when it exits (profiling a bench run).
    const prof_dir = process.env.TIDEMARK_CPU_PROF_DIR;
    const node_args = prof_dir ? ['--cpu-prof', `--cpu-prof-dir=${prof_dir}`] : [];
    const child = spawn(process.execPath, [...node_args, '--import', 'tsx', join(root, spec.entry), ...(spec.args ?? [])], {
      cwd: root,
      env: threadpoolEnv(this.envOf(spec)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code, signal) => {
        this.exits.set(spec.name, { code, signal });
        resolve(code);
      }),
    );
    this.stopping.delete(spec.name);
    this.running.set(spec.name, { spec, child, log, exited });
    void exited.then((code) => {
      const r = this.running.get(spec.name);
      if (r?.child !== child) return;
      this.running.delete(spec.name);
      if (!spec.restart_on_failure || code === 0 || this.stopping.has(spec.name)) return;
      log.end();
      const how = this.lastExit(spec.name)!;
      const timer = setTimeout(() => {
        this.restarts.delete(spec.name);
        if (this.stopping.has(spec.name) || this.running.has(spec.name)) return;
        this.onRestart(spec.name, how);
        this.start(spec);
      }, RESTART_DELAY_MS);
      this.restarts.set(spec.name, timer);
    });
    return child;
  }

  private envOf(spec: ProcessSpec): NodeJS.ProcessEnv {
    return processEnv(process.env, this.base_env, spec);
  }

  /** How `name` last exited ("code 70", "SIGSEGV"), or null while it never has. */
  lastExit(name: string): string | null {
    const e = this.exits.get(name);
    return e ? (e.signal ?? `code ${e.code}`) : null;
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  names(): string[] {
    return [...this.running.keys()];
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `timeout_ms`). */
  async stop(name: string, signal: NodeJS.Signals = 'SIGTERM', timeout_ms = 20_000): Promise<void> {
    this.stopping.add(name);
    clearTimeout(this.restarts.get(name));
    this.restarts.delete(name);
    const r = this.running.get(name);
    if (!r) return;
    r.child.kill(signal);
    const timer = setTimeout(() => r.child.kill('SIGKILL'), timeout_ms);
    await r.exited;
    clearTimeout(timer);
    r.log.end();
  }

  /** kill -9 and start again with the same spec. */
  async crashAndRestart(name: string, delay_ms = 0): Promise<void> {
    const r = this.running.get(name);
    if (!r) throw new Error(`${name} is not running`);
    await this.stop(name, 'SIGKILL');
    if (delay_ms > 0) await new Promise((resolve) => setTimeout(resolve, delay_ms));
    this.start(r.spec);
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all([...new Set([...this.running.keys(), ...this.restarts.keys()])].map((n) => this.stop(n, signal)));
  }
}

// Polling a service's ops endpoint is common's (waitForHttp); re-exported for the platform's users.
export { waitForHttp } from '@tidemark/common/ops';
