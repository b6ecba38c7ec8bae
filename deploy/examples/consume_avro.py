#!/usr/bin/env python3
"""A downstream team's reader: consumes a Tidemark topic with librdkafka (confluent-kafka)
as the team's own principal and decodes the Avro value through the registry's
Confluent-compatible API. The client settings are the ones `npx tidemark access grant`
printed (bootstrap, SASL_SSL with SCRAM-SHA-512, username, password, CA, group id):

    npx tidemark access grant --team risk --topics events.screened.v1 > risk.properties
    python3 -m venv .venv && .venv/bin/pip install "confluent-kafka[avro,schemaregistry]"
    .venv/bin/python deploy/examples/consume_avro.py events.screened.v1 risk.properties
"""
import sys
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import SerializationContext, MessageField

topic = sys.argv[1] if len(sys.argv) > 1 else 'events.screened.v1'
settings_file = sys.argv[2] if len(sys.argv) > 2 else 'team.properties'
# key=value lines; anything else (the grant's headline) is skipped.
settings = {}
with open(settings_file, encoding='utf-8') as f:
    for line in f:
        key, sep, value = line.strip().partition('=')
        if sep and '.' in key and ' ' not in key:
            settings[key] = value
registry = SchemaRegistryClient({'url': 'http://127.0.0.1:8081/apis/ccompat/v7'})
deserialize = AvroDeserializer(registry)
c = Consumer({**settings, 'auto.offset.reset': 'earliest', 'isolation.level': 'read_committed'})
c.subscribe([topic])
msg = None
for _ in range(30):
    msg = c.poll(1.0)
    if msg is not None and msg.error() is None:
        break
value = deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE))
print(msg.key().decode(), value['event']['event_type'], value['event']['amount'], value['screening']['decision'])
c.close()
