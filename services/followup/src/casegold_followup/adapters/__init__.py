"""I/O adapters of the follow-up service: PostgreSQL and Kafka."""
