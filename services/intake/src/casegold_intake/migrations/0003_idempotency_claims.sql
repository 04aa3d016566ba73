-- A key is claimed by its first request in a committed statement of its own, before the
-- publish (decision 0024): `attempt` counts the requests that held the claim, `lease_until`
-- reserves it for the one publishing now. A claim whose lease ended is taken over by the next
-- request with the same body, which re-publishes the stored event (the same event id).
-- Rows written before this migration were all committed after their publish.
ALTER TABLE idempotency_keys
    ADD COLUMN attempt integer NOT NULL DEFAULT 1,
    ADD COLUMN lease_until timestamptz;
