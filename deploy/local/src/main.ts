/**
 * Minimal CLI for the local infrastructure (the operator CLI `tidemark infra ...` wraps the same API):
 *   tsx deploy/local/src/main.ts up [component...] | status [--json] | down | reset | endpoints
 *                                restart <component> | stop <component> [--kill] | build-jaeger
 */
import {
  formatStatus,
  infraDown,
  infraEndpoints,
  infraReset,
  infraStatus,
  infraUp,
  restartComponent,
  runJaegerBuild,
  stopComponent,
} from './index.js';

const log = (line: string) => process.stderr.write(`[infra] ${line}\n`);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const json = rest.includes('--json');
  const args = rest.filter((a) => !a.startsWith('--'));
  const t0 = Date.now();
  switch (cmd) {
    case 'up': {
      const status = await infraUp({ components: args, log });
      console.log(json ? JSON.stringify(status, null, 2) : formatStatus(status));
      log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return status.ok || args.length > 0 ? 0 : 1;
    }
    case 'status': {
      const status = await infraStatus();
      console.log(json ? JSON.stringify(status, null, 2) : formatStatus(status));
      return status.ok ? 0 : 1;
    }
    case 'down':
      await infraDown({ log });
      log(`down in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return 0;
    case 'reset':
      await infraReset({ log });
      return 0;
    case 'build-jaeger':
      // Started detached by `up` (see startJaegerBuild); also usable by hand.
      return (await runJaegerBuild({ log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`) })) ? 0 : 1;
    case 'endpoints':
      console.log(JSON.stringify(infraEndpoints(), null, 2));
      return 0;
    case 'restart':
    case 'stop': {
      const name = args[0];
      if (!name) throw new Error(`usage: ${cmd} <component>`);
      if (cmd === 'restart') console.log(JSON.stringify(await restartComponent(name, { log }), null, 2));
      else
        console.log(JSON.stringify(await stopComponent(name, { log, ...(rest.includes('--kill') ? { signal: 'SIGKILL' as const } : {}) })));
      return 0;
    }
    default:
      console.error('usage: main.ts up [component...] | status [--json] | down | reset | endpoints | restart <c> | stop <c> [--kill]');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
