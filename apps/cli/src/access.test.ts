import { describe, expect, it } from 'vitest';
import { ADMIN_PRINCIPAL, loadCatalog, servicePrincipals } from '@tidemark/common';
import { platformPrincipals } from '@tidemark/local-infra';
import { clientProperties } from './access.js';

describe('Kafka principals', () => {
  it('the local broker creates credentials for exactly the admin and the services of the catalog', () => {
    expect(platformPrincipals().sort()).toEqual([ADMIN_PRINCIPAL, ...servicePrincipals(loadCatalog())].sort());
  });

  it("prints a team's client settings as librdkafka properties", () => {
    const text = clientProperties({
      team: 'risk',
      bootstrap_servers: '127.0.0.1:9092',
      security_protocol: 'SASL_SSL',
      sasl_mechanism: 'SCRAM-SHA-512',
      username: 'team-risk',
      password: 'pw',
      ca_file: '/state/secrets/kafka/ca.crt',
      group_prefix: 'team-risk.',
      topics: ['events.screened.v1'],
    });
    expect(text.split('\n')).toEqual([
      'bootstrap.servers=127.0.0.1:9092',
      'security.protocol=SASL_SSL',
      'sasl.mechanisms=SCRAM-SHA-512',
      'sasl.username=team-risk',
      'sasl.password=pw',
      'ssl.ca.location=/state/secrets/kafka/ca.crt',
      'group.id=team-risk.reader',
    ]);
  });
});
