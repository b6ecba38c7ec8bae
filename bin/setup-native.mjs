#!/usr/bin/env node
/**
 * Builds the native Kafka client (@confluentinc/kafka-javascript, librdkafka) after `npm install`.
 *
 * Why here and not in the package's own install script: a plain install of that package
 * downloads a prebuilt binary or, failing that, librdkafka's own dependencies from outside —
 * neither is reachable on machines that only see package registries. With
 * CKJS_LINKING=dynamic it builds the bundled librdkafka against the system's OpenSSL and
 * zlib instead (~2 min on 2 cores). The root package.json denies the package's install
 * script (`allowScripts`) and this postinstall step builds it that way, once; later installs
 * find the binding and return at once.
 *
 * Needs a C/C++ tool chain, make, python3 and the OpenSSL/zlib headers; as root on Debian/Ubuntu
 * it installs the missing ones with apt-get (build-essential python3 libssl-dev zlib1g-dev).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@confluentinc/kafka-javascript';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line) => console.log(`tidemark setup: ${line}`);

function bindingLoads() {
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(PACKAGE)})`], { cwd: root, encoding: 'utf8' });
  return probe.status === 0;
}

function packageDir() {
  try {
    return dirname(createRequire(join(root, 'package.json')).resolve(`${PACKAGE}/package.json`));
  } catch {
    return null;
  }
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const BUILD_NEEDS = [
  { ok: () => have('g++') && have('gcc') && have('make'), apt: ['build-essential'] },
  { ok: () => have('python3'), apt: ['python3'] },
  { ok: () => existsSync('/usr/include/openssl/ssl.h'), apt: ['libssl-dev'] },
  { ok: () => existsSync('/usr/include/zlib.h'), apt: ['zlib1g-dev'] },
];

function ensureBuildTools() {
  const missing = BUILD_NEEDS.filter((n) => !n.ok()).flatMap((n) => n.apt);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !have('apt-get')) {
    throw new Error(
      `missing build tools for the native Kafka client: install ${missing.join(' ')} (Debian/Ubuntu package names) and run npm install again`,
    );
  }
  log(`installing build tools from Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  }
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed`);
}

function build(dir) {
  // node-gyp needs Node's headers; use the installed ones (next to this node binary) rather than downloading them.
  const prefix = resolve(dirname(process.execPath), '..');
  const nodedir = existsSync(join(prefix, 'include', 'node', 'common.gypi')) ? prefix : null;
  const preGyp = createRequire(join(dir, 'package.json')).resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp');
  const args = [preGyp, 'install', '--build-from-source', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  log(`building ${PACKAGE} (librdkafka against the system OpenSSL and zlib; about 2 minutes on 2 cores)...`);
  const started = Date.now();
  const r = spawnSync(process.execPath, args, {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, CKJS_LINKING: 'dynamic' },
  });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
      .split('\n')
      .filter((l) => !l.startsWith('gyp info'))
      .slice(-60);
    console.error(tail.join('\n'));
    throw new Error(`building ${PACKAGE} failed (exit ${r.status}); the last lines of the build output are above`);
  }
  log(`built ${PACKAGE} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function main() {
  const dir = packageDir();
  if (!dir) return log(`${PACKAGE} is not installed; nothing to build`);
  if (bindingLoads()) return log(`native Kafka client ready (${PACKAGE})`);
  ensureBuildTools();
  build(dir);
  if (!bindingLoads()) throw new Error(`${PACKAGE} was built but does not load`);
  log('native Kafka client ready');
}

try {
  main();
} catch (err) {
  console.error(`tidemark setup: ${err.message}`);
  process.exit(1);
}
