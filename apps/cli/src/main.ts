/**
 * `tidemark` — the operator CLI (DESIGN 3.6). Each command loads only the modules it
 * needs, so e.g. `infra up` works before any service is built.
 */
import { Command, Option } from 'commander';

function printJsonOr(json: boolean, data: unknown, human: () => void): void {
  if (json) process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else human();
}

/** `infra up|status|down|reset`: the native local infrastructure. */
function infraCommands(program: Command): void {
  const infra = program
    .command('infra')
    .description('Run the real local infrastructure (Kafka, Apicurio Registry, PostgreSQL, Prometheus, Jaeger) without Docker.');
  infra
    .command('up')
    .description('Install (cached) and start every component; idempotent.')
    .option('--json', 'print the status as JSON')
    .addOption(
      new Option('--only <components...>', 'start only these components').choices([
        'postgres',
        'kafka',
        'apicurio',
        'prometheus',
        'jaeger',
      ]),
    )
    .action(async (opts: { json?: boolean; only?: string[] }) => {
      const { infraUp } = await import('@tidemark/local-infra');
      const status = await infraUp({ components: opts.only, log: (line: string) => process.stderr.write(line + '\n') });
      printJsonOr(Boolean(opts.json), status, () => printInfraStatus(status));
    });
  infra
    .command('status')
    .description('Show what is installed and running, ports, versions, memory and log paths.')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { infraStatus } = await import('@tidemark/local-infra');
      const status = await infraStatus();
      printJsonOr(Boolean(opts.json), status, () => printInfraStatus(status));
    });
  infra
    .command('down')
    .description('Stop every component (data is kept).')
    .action(async () => {
      const { infraDown } = await import('@tidemark/local-infra');
      await infraDown();
      console.log('infrastructure stopped');
    });
  infra
    .command('reset')
    .description('Stop every component and delete its data (downloads stay cached).')
    .action(async () => {
      const { infraReset } = await import('@tidemark/local-infra');
      await infraReset();
      console.log('infrastructure stopped and data deleted');
    });
}

/** `topics apply`, `schemas check`: the topic catalog and its schemas. */
function schemaCommands(program: Command): void {
  const topics = program.command('topics').description('Kafka topics and schemas from schemas/topics.json.');
  topics
    .command('apply')
    .description('Create/update every topic (with retry ladders and DLQs) and register schemas (BACKWARD). Idempotent.')
    .option('--prefix <prefix>', 'topic name prefix (namespace)', process.env.TIDEMARK_TOPIC_PREFIX ?? '')
    .option('--replication-factor <n>', 'replication factor for new topics', (v) => Number.parseInt(v, 10))
    .option('--json', 'print the report as JSON')
    .action(async (opts: { prefix: string; replicationFactor?: number; json?: boolean }) => {
      const { applyTopicsFromEnv } = await import('./topics.js');
      const { aclText } = await import('@tidemark/common');
      const report = await applyTopicsFromEnv(opts.prefix, opts.replicationFactor);
      printJsonOr(Boolean(opts.json), report, () => {
        const r = report.replication;
        console.log(
          `replication: ${r.profile} (cluster of ${r.brokers}): replication factor ${r.replication_factor}, min.insync.replicas ${r.min_insync_replicas}`,
        );
        if (report.under_replicated.length)
          console.log(
            `under-replicated (fewer replicas than the profile; reassign partitions to fix): ${report.under_replicated.join(', ')}`,
          );
        console.log(`created:   ${report.created.length ? report.created.join(', ') : '-'}`);
        console.log(`updated:   ${report.updated.length ? report.updated.join(', ') : '-'}`);
        console.log(`unchanged: ${report.unchanged.length}`);
        console.log(`schemas:   ${report.schemas.length} subjects registered (BACKWARD)`);
        if (!report.secured) console.log('acls:      - (PLAINTEXT broker)');
        else {
          console.log(
            `acls:      ${report.acls_added.length} added, ${report.acls_removed.length} removed (service ACLs derived from the catalog)`,
          );
          for (const b of report.acls_added) console.log(`  + ${b.principal} ${aclText(b)}`);
          for (const b of report.acls_removed) console.log(`  - ${b.principal} ${aclText(b)}`);
        }
      });
    });
  topics
    .command('asyncapi')
    .description('Write the AsyncAPI document generated from the catalog (schemas/asyncapi.yaml).')
    .option('--check', 'fail if the committed document is stale')
    .action(async (opts: { check?: boolean }) => {
      const { writeAsyncApi } = await import('./asyncapi.js');
      const ok = writeAsyncApi(Boolean(opts.check));
      if (!ok) process.exit(1);
    });

  program
    .command('k8s')
    .description('Kubernetes manifests.')
    .command('generate')
    .description(
      'Write Deployments, Services, PodDisruptionBudgets, KEDA ScaledObjects and Strimzi KafkaTopics generated from schemas/topics.json and the service list.',
    )
    .option('--out <dir>', 'output folder (relative to the repository root)', 'deploy/k8s')
    .option('--check', 'write nothing; exit 1 if the folder differs from what would be generated')
    .action(async (opts: { out: string; check?: boolean }) => {
      const { writeManifests } = await import('./k8s/generate.js');
      const { resolve } = await import('node:path');
      const { repoRoot } = await import('./paths.js');
      const dir = resolve(repoRoot(), opts.out);
      const changed = writeManifests(dir, Boolean(opts.check));
      if (opts.check && changed.length > 0) {
        console.error(`stale Kubernetes manifests in ${opts.out}: ${changed.join(', ')} (run \`npx tidemark k8s generate\`)`);
        process.exit(1);
      }
      console.log(
        opts.check
          ? `${opts.out} is up to date`
          : `wrote ${opts.out} (${changed.length ? `changed: ${changed.join(', ')}` : 'no changes'})`,
      );
    });

  program
    .command('schemas')
    .description('Schema tooling.')
    .command('check')
    .description(
      'Fail on a schema change that is not BACKWARD-compatible with any committed version, or on stale generated types/AsyncAPI.',
    )
    .action(async () => {
      const { schemasCheck } = await import('./schemas.js');
      process.exit(await schemasCheck());
    });
}

/** `dlq list|show|replay|purge`: dead letters. */
function dlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('Inspect and replay dead letters.');
  dlq
    .command('list')
    .description('List dead letters.')
    .option('--service <service>', 'dedupe | compliance-screening | ledger-projector')
    .option('--key <key>', 'only this record key (wallet id)')
    .option('--error <text>', 'only errors containing this text')
    .option('--since <iso>', 'only failures at or after this time')
    .option('--until <iso>', 'only failures before this time')
    .option('--limit <n>', 'at most n', (v) => Number.parseInt(v, 10), 100)
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const { dlqCommand } = await import('./dlq.js');
      process.exit(await dlqCommand('list', opts));
    });
  dlq
    .command('show <id>')
    .description('Show one dead letter (id = <service>:<partition>:<offset> as printed by list).')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts) => {
      const { dlqCommand } = await import('./dlq.js');
      process.exit(await dlqCommand('show', { ...opts, id }));
    });
  dlq
    .command('replay [id]')
    .description("Send dead letters back through their service's normal path (idempotent, audited). Give an id or filters.")
    .option('--service <service>', 'service')
    .option('--key <key>', 'record key')
    .option('--error <text>', 'error text')
    .option('--since <iso>', 'from')
    .option('--until <iso>', 'until')
    .option('--force', 're-send a replay left in doubt by a crash')
    .option('--dry-run', 'show what would be replayed')
    .option('--actor <name>', 'operator name for the audit record (default $TIDEMARK_OPERATOR or $USER)')
    .option('--json', 'print as JSON')
    .action(async (id: string | undefined, opts) => {
      const { dlqCommand } = await import('./dlq.js');
      process.exit(await dlqCommand('replay', { ...opts, id }));
    });
  dlq
    .command('purge')
    .description('Mark dead letters as purged (audited); they no longer show in list or replay.')
    .requiredOption('--service <service>', 'service')
    .option('--key <key>', 'record key')
    .option('--error <text>', 'error text')
    .option('--until <iso>', 'only failures before this time')
    .option('--truncate', 'also delete the purged records from the DLQ topic (Kafka delete-records)')
    .option('--dry-run', 'show what would be purged')
    .option('--actor <name>', 'operator name for the audit record (default $TIDEMARK_OPERATOR or $USER)')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const { dlqCommand } = await import('./dlq.js');
      process.exit(await dlqCommand('purge', opts));
    });
}

/** `reconcile`, `ledger check`: checks against the running platform. */
function operationCommands(program: Command): void {
  program
    .command('reconcile')
    .description("Compare the ledger with a provider's records and the audit trail. Exit 0 clean, 1 discrepancies, 2 could not run.")
    .requiredOption('--provider <id>', 'provider profile id, e.g. generic')
    .requiredOption('--since <iso>', 'window start (ISO-8601)')
    .option('--until <iso>', 'window end (ISO-8601), default now')
    .option('--statements-url <url>', 'provider statements API base URL (default TIDEMARK_<PROVIDER>_STATEMENTS_URL)')
    .option('--heal', 're-inject what the ledger is missing through the normal pipeline')
    .option('--schedule <seconds>', 'run repeatedly every n seconds', (v) => Number.parseInt(v, 10))
    .option('--report <path>', 'JSON report file (default reports/reconcile-<run id>.json)')
    .option('--no-conservation', 'skip the audit-trail conservation check')
    .option('--json', 'print the report as JSON')
    .action(async (opts) => {
      try {
        const mod = await import('@tidemark/reconciler');
        process.exit(await mod.reconcileCommand(opts));
      } catch (err) {
        console.error(`reconcile could not run: ${(err as Error).message}`);
        process.exit(2);
      }
    });

  program
    .command('ledger')
    .description('Ledger tools.')
    .command('check')
    .description(
      'Check the ledger invariants: postings balance per asset, balances equal postings, no negative pending/held. Exit 0 holds, 1 violated, 2 could not run.',
    )
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { ledgerCheckCommand } = await import('./ledger.js');
      process.exit(await ledgerCheckCommand(Boolean(opts.json)));
    });
}

/** `access grant|list|revoke`: read-only Kafka principals for downstream teams. */
function accessCommands(program: Command): void {
  const access = program.command('access').description('Kafka principals for downstream teams (read-only, per topic).');
  access
    .command('grant')
    .description(
      'Create (or re-key) the principal team-<name> with READ on the topics and groups team-<name>.*; prints its client settings once.',
    )
    .requiredOption('--team <name>', 'team name (lower-case letters, digits, "-")')
    .requiredOption('--topics <topics...>', 'catalog topic names, e.g. events.screened.v1 ledger.balances.v1')
    .option('--prefix <prefix>', 'topic name prefix (namespace)', process.env.TIDEMARK_TOPIC_PREFIX ?? '')
    .option('--json', 'print the settings as JSON')
    .action(async (opts: { team: string; topics: string[]; prefix: string; json?: boolean }) => {
      const { grantTeam, clientProperties } = await import('./access.js');
      const settings = await grantTeam(opts.team, opts.topics, opts.prefix);
      printJsonOr(Boolean(opts.json), settings, () => {
        console.log(`granted ${settings.username}: read ${settings.topics.join(', ')}; consumer groups ${settings.group_prefix}*`);
        console.log('client settings (the password is shown only now; grant again to re-key):\n');
        console.log(clientProperties(settings));
      });
    });
  access
    .command('list')
    .description('List team principals and their ACLs.')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { listTeams } = await import('./access.js');
      const { aclText } = await import('@tidemark/common');
      const teams = await listTeams();
      printJsonOr(Boolean(opts.json), teams, () => {
        if (teams.length === 0) console.log('no team principals');
        for (const t of teams) {
          console.log(t.principal);
          for (const a of t.acls) console.log(`  ${aclText(a)}`);
        }
      });
    });
  access
    .command('revoke')
    .description("Delete a team's ACLs and credentials (new connections fail at once; open ones lose every permission).")
    .requiredOption('--team <name>', 'team name')
    .action(async (opts: { team: string }) => {
      const { revokeTeam } = await import('./access.js');
      const existed = await revokeTeam(opts.team);
      console.log(existed ? `revoked team-${opts.team}` : `team-${opts.team} had no credentials or ACLs`);
    });
}

/** `start`, `test`, `bench`: the whole platform, its tests and benchmarks. */
function platformCommands(program: Command): void {
  program
    .command('start')
    .description('Bring up the infrastructure and all services, with demo traffic from the provider simulator.')
    .option('--no-demo', 'run without simulator traffic')
    .action(async (opts: { demo: boolean }) => {
      const { startPlatform } = await import('./start.js');
      await startPlatform({ demo: opts.demo });
    });

  program
    .command('test')
    .description('Start the infrastructure and run the whole test suite (static checks, unit, integration, end-to-end).')
    .option('--chaos', 'run the chaos suite instead')
    .option('--unit', 'only the static checks and unit tests (no infrastructure)')
    .action(async (opts: { chaos?: boolean; unit?: boolean }) => {
      const { runTests } = await import('./test-runner.js');
      process.exit(await runTests(opts));
    });

  program
    .command('bench')
    .description('Run the benchmarks and write reports/bench.json and reports/bench.md.')
    .option('--only <names...>', 'ingress | dedupe | screening | ledger | e2e')
    .option('--quick', 'short runs (e2e: 60 s per rate at 250, 500, 1000/s) for development')
    .option('--find-max', 'e2e: also search the highest rate with p99 received→projected ≤ 250 ms')
    .option(
      '--clients <names...>',
      'Kafka clients to compare side by side in the client-sensitive benchmarks (confluent, kafkajs; default both)',
    )
    .action(async (opts: { only?: string[]; quick?: boolean; findMax?: boolean; clients?: string[] }) => {
      const { runBench } = await import('./bench.js');
      process.exit(await runBench(opts));
    });
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('tidemark')
    .description('Tidemark operator CLI: local infrastructure, topics, dead letters, reconciliation and ledger checks.')
    .showHelpAfterError()
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .hook('preAction', async (_program, action) => {
      // Against the local infrastructure the CLI runs as the platform admin, or as the service whose work the
      // command does (`reconcile`: the reconciler's principal and read-only role; identity.ts), with credentials
      // from the state folder, unless the environment says how to reach Kafka and the database.
      let command: Command = action;
      while (command.parent && command.parent !== program) command = command.parent;
      const { commandEnv } = await import('./identity.js');
      Object.assign(process.env, commandEnv(command.name()));
    });

  infraCommands(program);
  schemaCommands(program);
  dlqCommands(program);
  operationCommands(program);
  accessCommands(program);
  platformCommands(program);

  await program.parseAsync(argv);
}

function printInfraStatus(status: unknown): void {
  void import('@tidemark/local-infra').then(({ formatStatus }) => {
    console.log(formatStatus(status as Parameters<typeof formatStatus>[0]));
  });
}
