#!/usr/bin/env node
// Operator CLI launcher: runs the TypeScript CLI (apps/cli) from source via tsx.
import { register } from 'tsx/esm/api';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

register();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { main } = await import(pathToFileURL(join(root, 'apps/cli/src/main.ts')).href);
await main(process.argv);
