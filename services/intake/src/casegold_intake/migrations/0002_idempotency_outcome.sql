-- Intake keeps the exact event and reply of each key: a retry that finds the key unpublished
-- re-publishes the very same bytes, and a replay answers with the same case id and due times.
-- Rows hold the customer's phone inside `event`; they are deleted after the retention period.
ALTER TABLE idempotency_keys
    ADD COLUMN event bytea,
    ADD COLUMN reply bytea;
