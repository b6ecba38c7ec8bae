#!/usr/bin/env python3
"""A downstream team's reader: consumes a Tidemark topic with librdkafka (confluent-kafka)
and decodes the Avro value through the registry's Confluent-compatible API.

    python3 -m venv .venv && .venv/bin/pip install "confluent-kafka[avro,schemaregistry]"
    .venv/bin/python deploy/examples/consume_avro.py events.screened.v1
"""
import sys
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import SerializationContext, MessageField
topic = sys.argv[1] if len(sys.argv) > 1 else 'events.screened.v1'
registry = SchemaRegistryClient({'url': 'http://127.0.0.1:8081/apis/ccompat/v7'})
deserialize = AvroDeserializer(registry)
c = Consumer({'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'readme-python-reader', 'auto.offset.reset': 'earliest', 'isolation.level': 'read_committed'})
c.subscribe([topic])
msg = None
for _ in range(30):
    msg = c.poll(1.0)
    if msg is not None and msg.error() is None:
        break
value = deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE))
print(msg.key().decode(), value['event']['event_type'], value['event']['amount'], value['screening']['decision'])
c.close()
