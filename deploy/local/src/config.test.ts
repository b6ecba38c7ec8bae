import { describe, expect, it } from 'vitest';
import { PORT_SPECS, POSTGRES, VERSIONS } from './components.js';
import {
  PortConfigError,
  activeControllerFromQuorumStates,
  apicurioJavaArgs,
  apicurioSystemProperties,
  generateKafkaClusterId,
  isForbiddenKafkaJar,
  jaegerConfigYaml,
  kafkaFormatArgs,
  kafkaJavaArgs,
  kafkaNodes,
  kafkaPom,
  kafkaServerProperties,
  parseKafkaNodeCount,
  parseKafkaSecurity,
  parsePort,
  scramFormatValue,
  pgHbaConf,
  postgresConf,
  postgresUrl,
  registryUrl,
  resolvePorts,
} from './config.js';
import { parseJavaMajor } from './drivers/common.js';

function props(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    expect(i).toBeGreaterThan(0);
    const key = line.slice(0, i);
    expect(m.has(key), `duplicate key ${key}`).toBe(false);
    m.set(key, line.slice(i + 1));
  }
  return m;
}

/** Each key of `expected` has that value in `p` (undefined: the key is absent). */
function expectProps(p: Map<string, string>, expected: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(expected)) expect(p.get(key), key).toBe(value);
}

describe('port parsing', () => {
  it('uses defaults when unset or blank', () => {
    expect(resolvePorts({})).toMatchObject({
      kafka: 9092,
      kafka_controller: 9093,
      registry: 8081,
      postgres: 55432,
      otlp_http: 4318,
      otlp_grpc: 4317,
      jaeger_ui: 16686,
    });
    expect(resolvePorts({ TIDEMARK_KAFKA_PORT: '  ' }).kafka).toBe(9092);
  });

  it('reads every documented environment variable', () => {
    const env: Record<string, string> = {};
    let port = 20000;
    for (const spec of Object.values(PORT_SPECS)) env[spec.env] = String(port++);
    const ports = resolvePorts(env);
    expect(new Set(Object.values(ports)).size).toBe(Object.keys(PORT_SPECS).length);
    expect(ports.kafka).toBe(Number(env.TIDEMARK_KAFKA_PORT));
    expect(ports.postgres).toBe(Number(env.TIDEMARK_PG_PORT));
    expect(ports.registry).toBe(Number(env.TIDEMARK_REGISTRY_PORT));
    expect(ports.otlp_http).toBe(Number(env.TIDEMARK_OTLP_HTTP_PORT));
    expect(ports.jaeger_ui).toBe(Number(env.TIDEMARK_JAEGER_UI_PORT));
  });

  it('rejects non-numbers and out-of-range values, naming the variable', () => {
    expect(() => parsePort('TIDEMARK_KAFKA_PORT', 'abc', 1)).toThrow(/TIDEMARK_KAFKA_PORT/);
    expect(() => parsePort('X', '9092.5', 1)).toThrow(PortConfigError);
    expect(() => parsePort('X', '-1', 1)).toThrow(PortConfigError);
    expect(() => parsePort('X', '0', 1)).toThrow(/out of range/);
    expect(() => parsePort('X', '65536', 1)).toThrow(/out of range/);
    expect(parsePort('X', ' 65535 ', 1)).toBe(65535);
  });

  it('rejects two services on one port', () => {
    expect(() => resolvePorts({ TIDEMARK_REGISTRY_PORT: '9092' })).toThrow(/TIDEMARK_KAFKA_PORT and TIDEMARK_REGISTRY_PORT/);
  });
});

describe('kafka security config (SASL_SSL by default)', () => {
  const nodes = kafkaNodes(resolvePorts({ TIDEMARK_KAFKA_PORT: '19092', TIDEMARK_KAFKA_CONTROLLER_PORT: '19093' }), 3);
  const security = { keystore: '/s/broker.p12', keystore_password: 'ksp', ca_file: '/s/ca.crt', admin_password: 'adm' };
  const p = props(kafkaServerProperties({ node: nodes[1]!, nodes, log_dir: '/d', security }));

  it('defaults to sasl_ssl; plaintext only when asked', () => {
    expect(parseKafkaSecurity(undefined)).toBe('sasl_ssl');
    expect(parseKafkaSecurity('')).toBe('sasl_ssl');
    expect(parseKafkaSecurity('PLAINTEXT')).toBe('plaintext');
    expect(() => parseKafkaSecurity('ssl')).toThrow(/TIDEMARK_KAFKA_SECURITY/);
  });

  it('serves clients and brokers SASL_SSL with SCRAM-SHA-512 (the admin as inter-broker login)', () => {
    expect(p.get('listeners')).toBe('SASL_SSL://127.0.0.1:19102,CONTROLLER://127.0.0.1:19103');
    expect(p.get('advertised.listeners')).toBe('SASL_SSL://127.0.0.1:19102');
    expect(p.get('inter.broker.listener.name')).toBe('SASL_SSL');
    expect(p.get('sasl.enabled.mechanisms')).toBe('SCRAM-SHA-512');
    expect(p.get('sasl.mechanism.inter.broker.protocol')).toBe('SCRAM-SHA-512');
    expect(p.get('listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config')).toBe(
      'org.apache.kafka.common.security.scram.ScramLoginModule required username="tidemark-admin" password="adm";',
    );
    expect(p.get('ssl.keystore.location')).toBe('/s/broker.p12');
    expect(p.get('ssl.truststore.type')).toBe('PEM');
    expect(p.get('ssl.truststore.location')).toBe('/s/ca.crt');
  });

  it('takes only CA-signed certificates on the controller listener, and authorizes everything with no ACL meaning no access', () => {
    expect(p.get('listener.security.protocol.map')).toBe('CONTROLLER:SSL,SASL_SSL:SASL_SSL');
    expect(p.get('listener.name.controller.ssl.client.auth')).toBe('required');
    expect(p.get('authorizer.class.name')).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(p.get('allow.everyone.if.no.acl.found')).toBe('false');
    expect(p.get('super.users')).toBe('User:tidemark-admin;User:CN=tidemark-broker');
    expect(p.get('controller.quorum.voters')).toBe('1@127.0.0.1:19093,2@127.0.0.1:19103,3@127.0.0.1:19113');
  });

  it('writes SCRAM credentials at format time (KIP-900) and refuses values that would break the syntax', () => {
    const input = { libs_dir: '/c/libs', log4j_config: '/c/l.yaml', server_properties: '/c/s.properties', marker: '/state', node_count: 1 };
    const fmt = kafkaFormatArgs({ ...input, cluster_id: 'abc', scram: { 'tidemark-admin': 'pw1', 'tidemark-ingress': 'pw2' } });
    expect(fmt.slice(-4)).toEqual([
      '--add-scram',
      'SCRAM-SHA-512=[name=tidemark-admin,password=pw1]',
      '--add-scram',
      'SCRAM-SHA-512=[name=tidemark-ingress,password=pw2]',
    ]);
    expect(() => scramFormatValue('a', 'p,w')).toThrow(/URL-safe/);
    expect(() => scramFormatValue('a]', 'pw')).toThrow(/URL-safe/);
  });
});

describe('kafka config', () => {
  const single = kafkaNodes(resolvePorts({ TIDEMARK_KAFKA_PORT: '19092', TIDEMARK_KAFKA_CONTROLLER_PORT: '19093' }), 1);
  const text = kafkaServerProperties({ node: single[0]!, nodes: single, log_dir: '/state/data/kafka/data' });
  const p = props(text);

  it('is a single-node KRaft broker+controller bound to loopback', () => {
    expectProps(p, {
      'process.roles': 'broker,controller',
      'node.id': '1',
      listeners: 'PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:19092',
      'controller.listener.names': 'CONTROLLER',
      'log.dirs': '/state/data/kafka/data',
    });
  });

  it('uses a bootstrap quorum (standalone format), never static voters', () => {
    expect(p.get('controller.quorum.bootstrap.servers')).toBe('127.0.0.1:19093');
    expect(p.has('controller.quorum.voters')).toBe(false);
  });

  it('has the single-node settings without which groups and transactions hang', () => {
    expectProps(p, {
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'group.initial.rebalance.delay.ms': '0',
      'auto.create.topics.enable': 'false',
      'num.partitions': '6',
      'log.retention.hours': undefined,
    });
  });

  it('runs kafka.Kafka with the libs classpath, heap cap and ownership marker', () => {
    const input = { libs_dir: '/c/libs', log4j_config: '/c/l.yaml', server_properties: '/c/s.properties', marker: '/state', node_count: 1 };
    const args = kafkaJavaArgs(input);
    expect(args).toContain('-Xmx768m');
    expect(args).toContain('-Dtidemark.state=/state');
    expect(args).toContain('-Dlog4j2.configurationFile=/c/l.yaml');
    expect(args.slice(-4)).toEqual(['-cp', '/c/libs/*', 'kafka.Kafka', '/c/s.properties']);
    const fmt = kafkaFormatArgs({ ...input, cluster_id: 'abc' });
    expect(fmt.slice(fmt.indexOf('kafka.tools.StorageTool'))).toEqual([
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '-t',
      'abc',
      '-c',
      '/c/s.properties',
    ]);
  });

  it('single-node mode is the default', () => {
    expect(parseKafkaNodeCount(undefined)).toBe(1);
    expect(parseKafkaNodeCount(' ')).toBe(1);
    expect(single).toEqual([{ component: 'kafka', node_id: 1, port: 19092, controller_port: 19093 }]);
  });

  it('pom pins Kafka, log4j2 via slf4j2 and keeps slf4j-api 1.x out', () => {
    const pom = kafkaPom();
    expect(pom).toContain(`<artifactId>kafka_2.13</artifactId>\n      <version>${VERSIONS.kafka}</version>`);
    expect(pom).toContain('<artifactId>log4j-slf4j2-impl</artifactId>');
    expect(pom).toContain(`<version>${VERSIONS.log4j}</version>`);
    expect(pom).toContain(`<artifactId>slf4j-api</artifactId>\n      <version>${VERSIONS.slf4j}</version>`);
    expect(pom).toMatch(/<exclusion><groupId>org.slf4j<\/groupId><artifactId>slf4j-api<\/artifactId><\/exclusion>/);
    expect(isForbiddenKafkaJar('slf4j-api-1.7.36.jar')).toBe(true);
    expect(isForbiddenKafkaJar('slf4j-api-2.0.17.jar')).toBe(false);
    expect(isForbiddenKafkaJar('kafka-clients-4.4.0.jar')).toBe(false);
  });

  it('cluster ids are 22-char url-safe base64 not starting with a dash', () => {
    for (let i = 0; i < 200; i++) {
      const id = generateKafkaClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });
});

describe('postgres config', () => {
  const conf = postgresConf({ port: 55432, socket_dir: "/state/run/pg'x" });

  it('listens on loopback with the requested port, socket dir and durable settings', () => {
    expect(conf).toContain("listen_addresses = '127.0.0.1'");
    expect(conf).toContain('port = 55432');
    expect(conf).toContain("unix_socket_directories = '/state/run/pg''x'");
    expect(conf).toContain("shared_buffers = '256MB'");
    expect(conf).toContain('max_connections = 200');
    expect(conf).toContain('fsync = on');
    expect(conf).toContain('synchronous_commit = on');
    expect(conf).not.toMatch(/fsync = off/);
  });

  it('trusts the unix socket and requires passwords over TCP', () => {
    const hba = pgHbaConf();
    expect(hba).toMatch(/^local\s+all\s+all\s+trust$/m);
    expect(hba).toMatch(/^host\s+all\s+all\s+127\.0\.0\.1\/32\s+scram-sha-256$/m);
    expect(hba).not.toMatch(/0\.0\.0\.0/);
  });

  it('builds the documented connection string', () => {
    expect(postgresUrl(55432)).toBe('postgres://tidemark:tidemark@127.0.0.1:55432/tidemark');
    expect(postgresUrl(5, 'a b', 'p@ss', 'd')).toBe('postgres://a%20b:p%40ss@127.0.0.1:5/d');
  });
});

describe('apicurio config', () => {
  const input = { http_port: 8081, management_port: 9081, pg_port: 55432, tmp_dir: '/state/tmp', marker: '/state' };

  it('stores schemas in the tidemark postgres cluster', () => {
    expect(apicurioSystemProperties(input)).toMatchObject({
      'apicurio.storage.kind': 'sql',
      'apicurio.storage.sql.kind': 'postgresql',
      'apicurio.datasource.url': `jdbc:postgresql://127.0.0.1:55432/${POSTGRES.registry_database}`,
      'apicurio.datasource.username': POSTGRES.registry_user,
      'quarkus.http.host': '127.0.0.1',
      'quarkus.http.port': '8081',
      'quarkus.management.port': '9081',
    });
  });

  it('runs the Quarkus fast-jar with a 384m heap', () => {
    const args = apicurioJavaArgs({ ...input, quarkus_run_jar: '/c/quarkus-run.jar' });
    expect(args).toContain('-Xmx384m');
    expect(args.slice(-2)).toEqual(['-jar', '/c/quarkus-run.jar']);
    expect(args.indexOf('-Dquarkus.http.port=8081')).toBeLessThan(args.indexOf('-jar'));
    expect(registryUrl(8081)).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
  });
});

describe('jaeger config', () => {
  it('wires OTLP receivers to memory storage and the query extension on the requested ports', () => {
    const y = jaegerConfigYaml({ otlp_grpc: 1, otlp_http: 2, query_http: 3, query_grpc: 4, health: 5, max_traces: 7 });
    expect(y).toContain('receivers: [otlp]');
    expect(y).toContain('exporters: [jaeger_storage_exporter]');
    expect(y).toMatch(/grpc:\n\s+endpoint: "127\.0\.0\.1:1"/);
    expect(y).toMatch(/http:\n\s+endpoint: "127\.0\.0\.1:2"/);
    expect(y).toMatch(/jaeger_query:[\s\S]*http:\n\s+endpoint: "127\.0\.0\.1:3"/);
    expect(y).toMatch(/jaeger_query:[\s\S]*grpc:\n\s+endpoint: "127\.0\.0\.1:4"/);
    expect(y).toMatch(/healthcheckv2:[\s\S]*endpoint: "127\.0\.0\.1:5"/);
    expect(y).toContain('max_traces: 7');
    expect(y).toContain('enable_tracing: false');
    expect(y).not.toMatch(/\t/);
  });
});

describe('java version parsing', () => {
  it('reads modern and legacy version strings', () => {
    expect(parseJavaMajor('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(parseJavaMajor('openjdk version "25.0.3" 2026-04-21 LTS')).toBe(25);
    expect(parseJavaMajor('java version "1.8.0_392"')).toBe(8);
    expect(parseJavaMajor('openjdk version "21" 2023-09-19')).toBe(21);
    expect(parseJavaMajor('garbage')).toBeNull();
  });
});

describe('kafka cluster mode (TIDEMARK_KAFKA_NODES=3)', () => {
  const ports = resolvePorts({ TIDEMARK_KAFKA_PORT: '23092', TIDEMARK_KAFKA_CONTROLLER_PORT: '23093' });
  const nodes = kafkaNodes(ports, parseKafkaNodeCount('3'));
  const files = nodes.map((node) => props(kafkaServerProperties({ node, nodes, log_dir: `/state/data/${node.component}/data` })));

  it('accepts only 1 or 3 nodes, naming the variable', () => {
    expect(parseKafkaNodeCount('3')).toBe(3);
    expect(() => parseKafkaNodeCount('2')).toThrow(/TIDEMARK_KAFKA_NODES="2" is not supported/);
    expect(() => parseKafkaNodeCount('three')).toThrow(PortConfigError);
  });

  it("derives every node's ports from the configured base, ten apart", () => {
    expect(nodes).toEqual([
      { component: 'kafka', node_id: 1, port: 23092, controller_port: 23093 },
      { component: 'kafka-2', node_id: 2, port: 23102, controller_port: 23103 },
      { component: 'kafka-3', node_id: 3, port: 23112, controller_port: 23113 },
    ]);
  });

  it('rejects a derived port that collides with another configured port', () => {
    const clash = resolvePorts({ TIDEMARK_KAFKA_PORT: '23092', TIDEMARK_REGISTRY_PORT: '23102' });
    expect(kafkaNodes(clash, 1)).toHaveLength(1);
    expect(() => kafkaNodes(clash, 3)).toThrow(/Kafka node 2 listener \(port 23102\) collides with TIDEMARK_REGISTRY_PORT/);
    expect(() => kafkaNodes(resolvePorts({ TIDEMARK_KAFKA_PORT: '65530', TIDEMARK_KAFKA_CONTROLLER_PORT: '65500' }), 3)).toThrow(
      /out of range/,
    );
  });

  it('every node is broker + controller with its own id, listeners and log dir', () => {
    files.forEach((p, i) => {
      const node = nodes[i]!;
      expectProps(p, {
        'process.roles': 'broker,controller',
        'node.id': String(node.node_id),
        listeners: `PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controller_port}`,
        'advertised.listeners': `PLAINTEXT://127.0.0.1:${node.port}`,
        'log.dirs': `/state/data/${node.component}/data`,
      });
    });
    expect(new Set(files.map((p) => p.get('log.dirs'))).size).toBe(3);
  });

  it('forms a static quorum of the same three voters on every node', () => {
    for (const p of files) {
      expect(p.get('controller.quorum.voters')).toBe('1@127.0.0.1:23093,2@127.0.0.1:23103,3@127.0.0.1:23113');
      expect(p.has('controller.quorum.bootstrap.servers')).toBe(false);
    }
  });

  it('replicates internal topics three times with min ISR 2 and never elects an out-of-sync leader', () => {
    for (const p of files) {
      expectProps(p, {
        'default.replication.factor': '3',
        'min.insync.replicas': '2',
        'offsets.topic.replication.factor': '3',
        'transaction.state.log.replication.factor': '3',
        'transaction.state.log.min.isr': '2',
        'share.coordinator.state.topic.replication.factor': '3',
        'share.coordinator.state.topic.min.isr': '2',
        'unclean.leader.election.enable': 'false',
      });
    }
  });

  it('formats without --standalone (static voters) and runs each node with a smaller heap', () => {
    const input = {
      libs_dir: '/c/libs',
      log4j_config: '/c/l.yaml',
      server_properties: '/c/kafka-2-server.properties',
      marker: '/state',
      node_count: 3,
    };
    expect(kafkaJavaArgs(input)).toContain('-Xmx512m');
    const fmt = kafkaFormatArgs({ ...input, cluster_id: 'abc' });
    expect(fmt.slice(fmt.indexOf('kafka.tools.StorageTool'))).toEqual([
      'kafka.tools.StorageTool',
      'format',
      '-t',
      'abc',
      '-c',
      '/c/kafka-2-server.properties',
    ]);
  });
});

describe('active KRaft controller from quorum-state files', () => {
  const state = (leaderId: number, leaderEpoch: number) =>
    JSON.stringify({ clusterId: '', leaderId, leaderEpoch, votedId: -1, data_version: 0 });

  it('is the leader of the highest epoch (a killed leader keeps a stale file)', () => {
    expect(activeControllerFromQuorumStates([state(1, 3), state(2, 4), state(2, 4)])).toEqual({ node_id: 2, leader_epoch: 4 });
  });

  it('skips missing, partial and leaderless states', () => {
    expect(activeControllerFromQuorumStates([null, '{"leaderId":', state(-1, 5), state(3, 2)])).toEqual({ node_id: 3, leader_epoch: 2 });
    expect(activeControllerFromQuorumStates([null, state(-1, 1)])).toBeNull();
  });
});
