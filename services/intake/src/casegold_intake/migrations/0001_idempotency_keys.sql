-- Intake remembers each client's Idempotency-Key with a hash of the body it came with, so a
-- retry returns the same case and a different body under the same key is refused (SPEC §6).
CREATE TABLE idempotency_keys (
    client_id    text        NOT NULL,
    key          text        NOT NULL,
    body_sha256  bytea       NOT NULL,
    case_id      uuid        NOT NULL,
    event_id     uuid        NOT NULL,
    published_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, key)
);

-- Keys are kept at least 24 h; a sweeper deletes older rows through this index.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
