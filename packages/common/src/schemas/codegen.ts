/**
 * Generates TypeScript types for every Avro record in `schemas/avro` into
 * `packages/common/src/generated/records.ts`. Schemas are the source of truth for
 * what travels on a topic; nobody hand-writes these interfaces.
 *
 *   npx tsx packages/common/src/schemas/codegen.ts          (write)
 *   npx tsx packages/common/src/schemas/codegen.ts --check  (fail if stale)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNamedTypes } from './catalog.js';
import { writeOrCheckGenerated } from './generated-file.js';

type Node = Record<string, unknown> | string | Node[];

function tsName(full: string): string {
  return full.split('.').pop() ?? full;
}

function tsType(node: Node, named: Map<string, Record<string, unknown>>, namespace: string): string {
  if (Array.isArray(node)) return node.map((n) => tsType(n, named, namespace)).join(' | ');
  if (typeof node === 'string') {
    switch (node) {
      case 'null':
        return 'null';
      case 'boolean':
        return 'boolean';
      case 'int':
      case 'float':
      case 'double':
        return 'number';
      case 'long':
        return 'number';
      case 'bytes':
        return 'Buffer';
      case 'string':
        return 'string';
      default:
        return tsName(node);
    }
  }
  const type = node.type;
  if (type === 'record' || type === 'enum' || type === 'fixed') return tsName(String(node.name));
  if (type === 'array') return `Array<${tsType(node.items as Node, named, namespace)}>`;
  if (type === 'map') return `Record<string, ${tsType(node.values as Node, named, namespace)}>`;
  return tsType(type as Node, named, namespace);
}

function doc(text: unknown, indent: string): string {
  return typeof text === 'string' ? `${indent}/** ${text.replace(/\*\//g, '*\\/')} */\n` : '';
}

export function generate(): string {
  const named = loadNamedTypes();
  let out = '// Generated from schemas/avro by packages/common/src/schemas/codegen.ts. Do not edit.\n/* eslint-disable */\n\n';
  const names = [...named.keys()].sort();
  for (const full of names) {
    const def = named.get(full)!;
    const ns = String(def.namespace);
    out += doc(def.doc, '');
    if (def.type === 'enum') {
      const symbols = def.symbols as string[];
      out += `export type ${tsName(full)} = ${symbols.map((s) => JSON.stringify(s)).join(' | ')};\n`;
      out += `export const ${tsName(full)}Values = [${symbols.map((s) => JSON.stringify(s)).join(', ')}] as const;\n\n`;
    } else if (def.type === 'record') {
      out += `export interface ${tsName(full)} {\n`;
      for (const f of def.fields as Array<Record<string, unknown>>) {
        out += doc(f.doc, '  ');
        out += `  ${String(f.name)}: ${tsType(f.type as Node, named, ns)};\n`;
      }
      out += '}\n\n';
    }
  }
  return out;
}

const target = join(dirname(fileURLToPath(import.meta.url)), '../generated/records.ts');

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ok = writeOrCheckGenerated(target, generate(), process.argv.includes('--check'), {
    stale: 'generated record types are stale: run `npm run schemas:types`',
    up_to_date: 'generated record types are up to date',
  });
  if (!ok) process.exit(1);
}
