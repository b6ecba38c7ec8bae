import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV, VERSIONS, type ComponentName } from './components.js';

/** Walks up from `start` to the directory whose package.json is named "tidemark". */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = resolve(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
        if (parsed.name === 'tidemark') return dir;
      } catch {
        // unreadable package.json: keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export interface StatePaths {
  state_dir: string;
  cache_dir: string;
  data_dir: string;
  logs_dir: string;
  run_dir: string;
  conf_dir: string;
  tmp_dir: string;
  lock_file: string;
  /** Per component. */
  data: (c: ComponentName) => string;
  log: (c: ComponentName) => string;
  pid: (c: ComponentName) => string;
  // Kafka
  kafka_home: string;
  kafka_libs: string;
  kafka_pom: string;
  kafka_properties: string;
  kafka_log4j: string;
  // Apicurio
  apicurio_home: string;
  apicurio_tarball_dir: string;
  // PostgreSQL
  pg_socket_dir: string;
  // Jaeger
  jaeger_home: string;
  jaeger_binary: string;
  jaeger_config: string;
  jaeger_build_log: string;
  // Prometheus
  prometheus_config: string;
  /** file_sd target files (`<service>.<stack>.json`), written by whoever starts services. */
  prometheus_targets_dir: string;
  /** Extra rule files (e.g. a test's copy of the rules with short `for:`), loaded besides deploy/prometheus/alerts.yml. */
  prometheus_rules_dir: string;
}

export function resolveStateDir(env: NodeJS.ProcessEnv = process.env, start?: string): string {
  const fromEnv = env[ENV.state_dir];
  if (fromEnv && fromEnv.trim() !== '') return resolve(fromEnv);
  const root = findRepoRoot(start);
  if (!root) {
    throw new Error(
      `cannot find the Tidemark repository root (a package.json named "tidemark" above ${start ?? 'this module'}); set ${ENV.state_dir}`,
    );
  }
  return join(root, '.tidemark');
}

export function statePaths(stateDir: string): StatePaths {
  const cache = join(stateDir, 'cache');
  const data = join(stateDir, 'data');
  const logs = join(stateDir, 'logs');
  const run = join(stateDir, 'run');
  const conf = join(stateDir, 'conf');
  const kafkaHome = join(cache, `kafka-${VERSIONS.kafka}`);
  const jaegerHome = join(cache, `jaeger-${VERSIONS.jaeger_v2}`);
  return {
    state_dir: stateDir,
    cache_dir: cache,
    data_dir: data,
    logs_dir: logs,
    run_dir: run,
    conf_dir: conf,
    tmp_dir: join(stateDir, 'tmp'),
    lock_file: join(stateDir, 'infra.lock'),
    data: (c) => join(data, c),
    log: (c) => join(logs, `${c}.log`),
    pid: (c) => join(run, `${c}.pid`),
    kafka_home: kafkaHome,
    kafka_libs: join(kafkaHome, 'libs'),
    kafka_pom: join(kafkaHome, 'pom.xml'),
    kafka_properties: join(conf, 'kafka-server.properties'),
    kafka_log4j: join(conf, 'kafka-log4j2.yaml'),
    apicurio_home: join(cache, `apicurio-registry-${VERSIONS.apicurio}`),
    apicurio_tarball_dir: join(cache, 'downloads'),
    pg_socket_dir: join(run, 'pg'),
    jaeger_home: jaegerHome,
    jaeger_binary: join(jaegerHome, 'jaeger'),
    jaeger_config: join(conf, 'jaeger.yaml'),
    jaeger_build_log: join(logs, 'jaeger-build.log'),
    prometheus_config: join(conf, 'prometheus.yml'),
    prometheus_targets_dir: join(conf, 'prometheus-targets'),
    prometheus_rules_dir: join(conf, 'prometheus-rules'),
  };
}
