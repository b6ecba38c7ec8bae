import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { KafkaTopic, KafkaUser } from '@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1beta2';
import { loadCatalog, plannedTopics } from '@tidemark/common';
import { repoRoot } from '../paths.js';
import { SERVICES } from './services.js';
import { generateManifests, writeManifests, type Manifest } from './generate.js';

const DIR = join(repoRoot(), 'deploy', 'k8s');
const catalog = loadCatalog();

/** The JSON-schema validators that ship with the model packages, by apiVersion + kind. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'kafka.strimzi.io/v1beta2/KafkaTopic': KafkaTopic,
  'kafka.strimzi.io/v1beta2/KafkaUser': KafkaUser,
};

function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

/** Every document of the committed files (what `kubectl apply -f deploy/k8s` would read). */
function committed(): Manifest[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => {
        expect(d.errors, f).toEqual([]);
        return d.toJS() as Manifest;
      }),
    );
}

const docs = committed();
const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
type Container = {
  name: string;
  env: Array<{
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
  }>;
} & Record<string, unknown>;
const containerOf = (d: Manifest) =>
  (d as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!;

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('give every service a KafkaUser with exactly the ACLs derived from the catalog, and use it', () => {
    const users = ofKind('KafkaUser');
    expect(users.map((u) => u.metadata.name).sort()).toEqual(SERVICES.map((s) => `tidemark-${s.name}`).sort());
    const ingress = users.find((u) => u.metadata.name === 'tidemark-ingress') as unknown as {
      spec: {
        authentication: { type: string };
        authorization: { acls: Array<{ resource: { type: string; name: string }; operations: string[] }> };
      };
    };
    expect(ingress.spec.authentication.type).toBe('scram-sha-512');
    expect(ingress.spec.authorization.acls.map((a) => `${a.operations.join()} ${a.resource.type} ${a.resource.name}`).sort()).toEqual([
      'Write topic audit.v1',
      'Write topic webhooks.received.v1',
    ]);
    for (const d of ofKind('Deployment')) {
      const env = containerOf(d).env;
      expect(env.find((e) => e.name === 'TIDEMARK_KAFKA_SASL_USERNAME')?.value).toBe(`tidemark-${d.metadata.name}`);
      expect(env.find((e) => e.name === 'TIDEMARK_KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
        name: `tidemark-${d.metadata.name}`,
        key: 'password',
      });
    }
  });

  it('are exactly what `npx tidemark k8s generate` writes (regenerate after changing the catalog or services.ts)', () => {
    expect(writeManifests(DIR, true)).toEqual([]);
  });

  it('validate against the Kubernetes, KEDA and Strimzi schemas', () => {
    expect(docs.length).toBeGreaterThan(20);
    for (const d of docs) expect(() => validate(d), `${d.kind} ${d.metadata.name}`).not.toThrow();
  });

  it('the validators are live: a broken manifest is rejected', () => {
    const deployment = generateManifests()[1]!.docs[0]!;
    const broken = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(() => validate(broken as unknown as Manifest)).toThrow(/replicas/);
    const topic = structuredClone(ofKind('KafkaTopic')[0]!) as unknown as { spec: { partitions: unknown } };
    topic.spec.partitions = 'six';
    expect(() => validate(topic as unknown as Manifest)).toThrow(/partitions/);
  });

  it('has one KafkaTopic per catalog topic, retry rung and DLQ, replicated 3 with min.insync.replicas 2', () => {
    const expected = plannedTopics(catalog)
      .map((t) => t.name)
      .sort();
    const topics = ofKind('KafkaTopic') as unknown as Array<{
      spec: { topicName: string; partitions: number; replicas: number; config: Record<string, string> };
    }>;
    expect(topics.map((t) => t.spec.topicName).sort()).toEqual(expected);
    expect(new Set(expected).size).toBe(expected.length);
    for (const t of topics) {
      expect(t.spec.replicas).toBe(3);
      expect(t.spec.config['min.insync.replicas']).toBe('2');
    }
    const received = topics.find((t) => t.spec.topicName === 'webhooks.received.v1')!;
    expect(received.spec.partitions).toBe(catalog.topics.find((t) => t.name === 'webhooks.received.v1')!.partitions);
  });

  it('has exactly one Deployment and one PodDisruptionBudget per service, with probes on the ops endpoints and resources', () => {
    const names = SERVICES.map((s) => s.name).sort();
    expect(
      ofKind('Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(names);
    expect(
      ofKind('PodDisruptionBudget')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(names);
    for (const d of ofKind('Deployment')) {
      const c = containerOf(d) as Container & {
        livenessProbe: { httpGet: { path: string } };
        readinessProbe: { httpGet: { path: string } };
        resources: { requests: Record<string, string>; limits: Record<string, string> };
      };
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
    }
  });

  it('exposes ingress, the ledger API and the console as Services', () => {
    expect(
      ofKind('Service')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['console', 'ingress', 'ledger-projector']);
  });

  it("runs the console as its own principal, and the reconciliations it starts as the reconciler's", () => {
    const env = containerOf(ofKind('Deployment').find((d) => d.metadata.name === 'console')!).env;
    expect(env.find((e) => e.name === 'TIDEMARK_KAFKA_SASL_USERNAME')?.value).toBe('tidemark-console');
    expect(env.find((e) => e.name === 'TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME')?.value).toBe('tidemark-reconciler');
    expect(env.find((e) => e.name === 'TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'tidemark-reconciler',
      key: 'password',
    });
    const user = ofKind('KafkaUser').find((u) => u.metadata.name === 'tidemark-console') as unknown as {
      spec: { authorization: { acls: Array<{ resource: { type: string; name: string }; operations: string[] }> } };
    };
    const acls = user.spec.authorization.acls.map((a) => `${a.operations.join()} ${a.resource.type} ${a.resource.name}`);
    expect(acls).toContain('Read topic ledger-projector.dlq');
    expect(acls).toContain('Write transactionalId tidemark-dlq-ops-ledger-projector');
    expect(acls.filter((a) => a.startsWith('Read topic') && !a.endsWith('.dlq'))).toEqual([]);
  });

  it("scales each consumer on its group's lag, up to its input topic's partition count", () => {
    const scaled = ofKind('ScaledObject') as unknown as Array<{
      metadata: { name: string };
      spec: { maxReplicaCount: number; triggers: Array<{ type: string; metadata: Record<string, string> }> };
    }>;
    expect(scaled.map((s) => s.metadata.name).sort()).toEqual(catalog.consumers.map((c) => c.service).sort());
    for (const c of catalog.consumers) {
      const so = scaled.find((s) => s.metadata.name === c.service)!;
      const input = catalog.topics.find((t) => t.name === c.input)!;
      expect(so.spec.maxReplicaCount).toBe(input.partitions);
      expect(so.spec.triggers).toHaveLength(1);
      expect(so.spec.triggers[0]).toMatchObject({ type: 'kafka', metadata: { consumerGroup: c.service, topic: c.input } });
    }
    // A consumer Deployment leaves its replica count to KEDA.
    for (const d of ofKind('Deployment').filter((d) => scaled.some((s) => s.metadata.name === d.metadata.name))) {
      expect((d as unknown as { spec: { replicas?: number } }).spec.replicas).toBeUndefined();
    }
  });

  it('names each consumer instance after its pod (a restarted container fences its predecessor at once)', () => {
    for (const d of ofKind('Deployment')) {
      const id = containerOf(d).env.find((e) => e.name === 'TIDEMARK_INSTANCE_ID');
      const consumer = SERVICES.find((s) => s.name === d.metadata.name)?.role === 'consumer';
      expect(id?.valueFrom?.fieldRef?.fieldPath, d.metadata.name).toBe(consumer ? 'metadata.name' : undefined);
      expect(containerOf(d).env.find((e) => e.name === 'UV_THREADPOOL_SIZE')?.value, d.metadata.name).toBe('16');
    }
  });

  it('takes secrets only by reference: no secret value anywhere', () => {
    for (const d of ofKind('Deployment')) {
      for (const e of containerOf(d).env) {
        if (/SECRETS|TOKEN|KEY|PASSWORD|DATABASE_URL/.test(e.name)) {
          expect(e.value, `${d.metadata.name} ${e.name}`).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef?.name, `${d.metadata.name} ${e.name}`).toMatch(/^tidemark-/);
        }
      }
    }
    const text = readdirSync(DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join(DIR, f), 'utf8'))
      .join('\n');
    expect(text).not.toMatch(/whsec_|postgres:\/\/[^\s]*:[^\s]*@/);
    expect(ofKind('Secret')).toEqual([]);
  });
});
