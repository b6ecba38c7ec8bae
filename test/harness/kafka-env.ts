/**
 * Vitest setup for the infrastructure suites: unless the environment already says how to reach Kafka, tests run
 * as the platform admin of the local broker (SASL_SSL credentials and CA from the state folder). Services started
 * by the test stack replace these with their own principals (Platform, `kafka_principal`).
 */
import { localKafkaClientEnv } from '@tidemark/local-infra';

if (!process.env.TIDEMARK_KAFKA_SECURITY_PROTOCOL) Object.assign(process.env, localKafkaClientEnv('tidemark-admin') ?? {});
