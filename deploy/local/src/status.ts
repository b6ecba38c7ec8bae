/** Status and summary: per-component status, endpoints, and the human-readable status table. */
import { readFileSync } from 'node:fs';
import { HOST, POSTGRES } from './components.js';
import { postgresUrl, registryUrl } from './config.js';
import { activeComponents, DRIVERS, OPTIONAL, ownedPid, requiredComponents, unavailableFile } from './context.js';
import { describeJaegerBuild, jaegerDriver, runningJaegerBuild } from './drivers/jaeger.js';
import { prometheusDriver } from './drivers/prometheus.js';
import type { Driver, InfraContext } from './drivers/types.js';
import { memoryOf } from './proc.js';
import type { ComponentStatus, InfraEndpoints, InfraStatus } from './public-types.js';

/** Why an optional component is not running: the last failure recorded by `up`, else the driver's own reason. */
function unavailableReason(driver: Driver, ctx: InfraContext): string | null {
  try {
    const recorded = readFileSync(unavailableFile(ctx, driver.name), 'utf8').trim();
    if (recorded) return recorded;
  } catch {
    /* none recorded */
  }
  return driver.unavailableReason?.(ctx) ?? (driver.isInstalled(ctx) ? null : 'not installed');
}

export async function componentStatus(driver: Driver, ctx: InfraContext): Promise<ComponentStatus> {
  const pid = ownedPid(driver, ctx, false);
  const installed = driver.isInstalled(ctx);
  const unavailable = OPTIONAL.has(driver.name) && pid === null ? unavailableReason(driver, ctx) : null;
  let healthy = false;
  let health: string;
  if (pid !== null) {
    const h = await driver.health(ctx);
    healthy = h.ok;
    health = h.ok ? 'healthy' : `unhealthy: ${h.detail}`;
  } else {
    health = unavailable ? `unavailable: ${unavailable}` : 'stopped';
  }
  const mem = pid !== null ? memoryOf(pid) : null;
  return {
    name: driver.name,
    installed,
    running: pid !== null,
    healthy,
    health,
    pid,
    ports: driver.ports(ctx),
    version: driver.version(ctx),
    log_file: ctx.paths.log(driver.name),
    data_dir: ctx.paths.data(driver.name),
    rss_mib: mem?.rss_mib ?? null,
    pss_mib: mem?.pss_mib ?? null,
    unavailable_reason: unavailable,
  };
}

export function endpointsFor(ctx: InfraContext): InfraEndpoints {
  const p = ctx.ports;
  const jaegerPid = ownedPid(jaegerDriver, ctx, false);
  const jaegerUp = jaegerPid !== null;
  let reason: string | null = null;
  if (!jaegerUp) reason = unavailableReason(jaegerDriver, ctx) ?? 'not running (start it with `infra up jaeger`)';
  return {
    kafka_brokers: ctx.kafka_nodes.map((n) => `${HOST}:${n.port}`),
    registry_url: registryUrl(p.registry),
    registry_management_url: `http://${HOST}:${p.registry_management}`,
    postgres_url: postgresUrl(p.postgres),
    postgres: { host: HOST, port: p.postgres, user: POSTGRES.user, password: POSTGRES.password, database: POSTGRES.database },
    jaeger_otlp_http_endpoint: jaegerUp ? `http://${HOST}:${p.otlp_http}` : null,
    jaeger_otlp_traces_url: jaegerUp ? `http://${HOST}:${p.otlp_http}/v1/traces` : null,
    jaeger_otlp_grpc_endpoint: jaegerUp ? `${HOST}:${p.otlp_grpc}` : null,
    jaeger_query_url: jaegerUp ? `http://${HOST}:${p.jaeger_ui}` : null,
    jaeger_unavailable_reason: reason,
    jaeger_build: jaegerUp ? null : runningJaegerBuild(ctx),
    jaeger_planned: { otlp_traces_url: `http://${HOST}:${p.otlp_http}/v1/traces`, query_url: `http://${HOST}:${p.jaeger_ui}` },
    prometheus_url: ownedPid(prometheusDriver, ctx, false) !== null ? `http://${HOST}:${p.prometheus}` : null,
  };
}

export async function statusOf(ctx: InfraContext): Promise<InfraStatus> {
  const list = await Promise.all(activeComponents(ctx).map((c) => componentStatus(DRIVERS[c], ctx)));
  const components = Object.fromEntries(list.map((s) => [s.name, s])) as InfraStatus['components'];
  return {
    state_dir: ctx.paths.state_dir,
    ok: requiredComponents(ctx).every((c) => components[c]?.healthy === true),
    components,
    endpoints: endpointsFor(ctx),
  };
}

/** Human-readable status table (for the CLI). */
export function formatStatus(status: InfraStatus): string {
  const rows = [['COMPONENT', 'VERSION', 'INSTALLED', 'PID', 'PORTS', 'RSS MiB', 'HEALTH']];
  for (const c of Object.values(status.components)) {
    rows.push([
      c.name,
      c.version ?? '-',
      c.installed ? 'yes' : 'no',
      c.pid === null ? '-' : String(c.pid),
      Object.values(c.ports).join(','),
      c.rss_mib === null ? '-' : c.pss_mib !== null && c.pss_mib < c.rss_mib * 0.9 ? `${c.rss_mib} (pss ${c.pss_mib})` : String(c.rss_mib),
      c.health,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (i === rows[0]!.length - 1 ? 0 : r[i]!.length))));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  const e = status.endpoints;
  lines.push(
    '',
    `state dir      ${status.state_dir}`,
    `kafka          ${e.kafka_brokers.join(',')}`,
    `registry       ${e.registry_url}`,
    `postgres       ${e.postgres_url}`,
    `jaeger otlp    ${e.jaeger_otlp_http_endpoint ?? `- (${e.jaeger_build ? `building: ${describeJaegerBuild(e.jaeger_build)}` : e.jaeger_unavailable_reason})`}`,
    `jaeger ui      ${e.jaeger_query_url ?? '-'}`,
    `prometheus     ${e.prometheus_url ?? '-'}`,
    `logs           ${Object.values(status.components)[0]?.log_file.replace(/[^/]+$/, '') ?? ''}`,
    `overall        ${status.ok ? 'OK' : 'NOT OK'}`,
  );
  return lines.join('\n');
}
