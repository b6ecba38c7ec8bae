import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALL_TIMEOUTS_MS, JAVA_MIN_MAJOR, MAVEN, VERSIONS } from '../components.js';
import {
  generateKafkaClusterId,
  isForbiddenKafkaJar,
  kafkaFormatArgs,
  kafkaJavaArgs,
  kafkaLog4j2Yaml,
  kafkaPom,
  kafkaServerProperties,
  type KafkaCommandInput,
} from '../config.js';
import { kafkaHealth, kafkaWarmUp } from '../health.js';
import { exec, spawnDetached } from '../proc.js';
import { ensureDirs, ensureJava, installAtomically, javaMajorOf, mvn } from './common.js';
import type { Driver, InfraContext } from './types.js';

const KAFKA_JAR = `kafka_${VERSIONS.kafka_scala}-${VERSIONS.kafka}.jar`;
const INSTALLED_MARKER = '.installed';

interface FormatRecord {
  cluster_id: string;
  controller_port: number;
  formatted_at: string;
}

function logDir(ctx: InfraContext): string {
  return join(ctx.paths.data('kafka'), 'data');
}

function formatRecordPath(ctx: InfraContext): string {
  return join(ctx.paths.data('kafka'), 'tidemark-format.json');
}

function commandInput(ctx: InfraContext): KafkaCommandInput {
  return {
    libs_dir: ctx.paths.kafka_libs,
    log4j_config: ctx.paths.kafka_log4j,
    server_properties: ctx.paths.kafka_properties,
    marker: ctx.paths.state_dir,
  };
}

async function formatIfNeeded(ctx: InfraContext, java: string): Promise<void> {
  const dir = logDir(ctx);
  const recordPath = formatRecordPath(ctx);
  if (existsSync(join(dir, 'meta.properties'))) {
    if (existsSync(recordPath)) {
      const record = JSON.parse(readFileSync(recordPath, 'utf8')) as FormatRecord;
      if (record.controller_port !== ctx.ports.kafka_controller) {
        throw new Error(
          `Kafka storage was formatted with controller port ${record.controller_port} (a standalone KRaft quorum remembers its voter endpoint); ` +
            `set TIDEMARK_KAFKA_CONTROLLER_PORT=${record.controller_port} or run \`infra reset\``,
        );
      }
    }
    return;
  }
  rmSync(dir, { recursive: true, force: true });
  ensureDirs(dir);
  const cluster_id = generateKafkaClusterId();
  ctx.log(`kafka: formatting KRaft storage (cluster id ${cluster_id})`);
  await exec(java, kafkaFormatArgs({ ...commandInput(ctx), cluster_id }), {
    cwd: ctx.paths.data('kafka'),
    log_file: ctx.paths.log('kafka'),
    timeout_ms: INSTALL_TIMEOUTS_MS.kafka_format,
  });
  const record: FormatRecord = { cluster_id, controller_port: ctx.ports.kafka_controller, formatted_at: new Date().toISOString() };
  writeFileSync(recordPath, JSON.stringify(record, null, 2) + '\n');
}

export const kafkaDriver: Driver = {
  name: 'kafka',
  stop_signal: 'SIGTERM',
  ports: (ctx) => ({ kafka: ctx.ports.kafka, kafka_controller: ctx.ports.kafka_controller }),
  owns: (cmdline, ctx) => cmdline.includes('kafka.Kafka') && cmdline.includes(ctx.paths.kafka_properties),
  isInstalled: (ctx) =>
    existsSync(join(ctx.paths.kafka_home, INSTALLED_MARKER)) && existsSync(join(ctx.paths.kafka_libs, KAFKA_JAR)),
  async install(ctx) {
    ctx.log(`kafka: resolving ${MAVEN.kafka_artifact} and its runtime classpath from Maven Central ...`);
    ensureDirs(ctx.paths.cache_dir, ctx.paths.logs_dir);
    await installAtomically(ctx.paths.kafka_home, async (tmp) => {
      writeFileSync(join(tmp, 'pom.xml'), kafkaPom());
      const libs = join(tmp, 'libs');
      await mvn(
        ctx,
        ['-f', join(tmp, 'pom.xml'), `${MAVEN.dependency_plugin}:copy-dependencies`, `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'],
        tmp,
      );
      const jars = readdirSync(libs);
      for (const jar of jars.filter(isForbiddenKafkaJar)) rmSync(join(libs, jar));
      const left = readdirSync(libs);
      if (!left.includes(KAFKA_JAR)) throw new Error(`Maven did not produce ${KAFKA_JAR}`);
      if (!left.includes(`slf4j-api-${VERSIONS.slf4j}.jar`)) throw new Error(`Maven did not produce slf4j-api-${VERSIONS.slf4j}.jar`);
      writeFileSync(join(tmp, INSTALLED_MARKER), left.sort().join('\n') + '\n');
    });
  },
  async start(ctx) {
    const java = await ensureJava(ctx, JAVA_MIN_MAJOR.kafka);
    ctx.log(`kafka: using ${java} (Java ${javaMajorOf(java)})`);
    ensureDirs(ctx.paths.conf_dir, ctx.paths.data('kafka'), ctx.paths.logs_dir);
    writeFileSync(
      ctx.paths.kafka_properties,
      kafkaServerProperties({ port: ctx.ports.kafka, controller_port: ctx.ports.kafka_controller, log_dir: logDir(ctx) }),
    );
    writeFileSync(ctx.paths.kafka_log4j, kafkaLog4j2Yaml());
    await formatIfNeeded(ctx, java);
    return spawnDetached(java, kafkaJavaArgs(commandInput(ctx)), {
      cwd: ctx.paths.data('kafka'),
      log_file: ctx.paths.log('kafka'),
    });
  },
  health: (ctx) => kafkaHealth(ctx.ports.kafka),
  async afterHealthy(ctx) {
    await kafkaWarmUp(ctx.ports.kafka).catch((err: Error) => {
      throw new Error(`broker is up but its group/transaction coordinators did not load: ${err.message}`);
    });
  },
  extraLogs: (ctx) => [join(ctx.paths.logs_dir, 'maven.log')],
  version: (ctx) => (kafkaDriver.isInstalled(ctx) ? VERSIONS.kafka : null),
};
