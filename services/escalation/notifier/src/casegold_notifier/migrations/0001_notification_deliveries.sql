-- The notifier's delivery log (SPEC §3 "Notifications"; docs/decisions/0030): one row per notice
-- and recipient. The unique key turns every second attempt to record the same notice (a replayed
-- escalation_raised, a recipient listed under two audiences of one step, a second notifier) into
-- a no-op, so a recipient is never told twice; `repeat` keeps reminders of a step apart.
CREATE TABLE notification_deliveries (
    id              bigserial   PRIMARY KEY,
    -- Deterministic (UUIDv5 of escalation_id, repeat, recipient); sent as X-Casegold-Notice-Id.
    notice_id       uuid        NOT NULL UNIQUE,
    -- 'digest': the notices held through a recipient's quiet hours, sent as one message.
    kind            text        NOT NULL DEFAULT 'notice' CHECK (kind IN ('notice', 'digest')),
    -- For a digest row, the digest's own id.
    escalation_id   uuid        NOT NULL,
    repeat          integer     NOT NULL DEFAULT 0 CHECK (repeat >= 0),
    recipient       text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('webhook', 'slack', 'email')),
    case_id         uuid,
    -- The escalation_raised event that created the row (null for a digest).
    event_id        uuid,
    audience        text,
    step            text,
    tier            smallint,
    -- A digest's is its earliest notice's.
    fired_at        timestamptz NOT NULL,
    -- The escalation_raised event as received: retries render from it, not from Kafka.
    notice          jsonb,
    -- pending: to send; held: waits for quiet hours to end; sending: claimed by a notifier until
    -- next_attempt_at; failed: waits for its retry; digested: travels in digest `digest_id`;
    -- delivered; dead: no more attempts (last_error says why).
    status          text        NOT NULL CHECK (status IN
                        ('pending', 'held', 'sending', 'failed', 'digested', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL,
    -- Set by each claim; an outcome is recorded only by the claim that still holds the row.
    claim_token     uuid,
    digest_id       uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (escalation_id, repeat, recipient)
);

-- The retry queue is this table: notifiers claim due rows through this index.
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'held', 'sending', 'failed');
CREATE INDEX notification_deliveries_case ON notification_deliveries (case_id);
CREATE INDEX notification_deliveries_digest ON notification_deliveries (digest_id)
    WHERE digest_id IS NOT NULL;
CREATE INDEX notification_deliveries_dead ON notification_deliveries (updated_at)
    WHERE status = 'dead';

-- One row per attempt, for the audit: written when the attempt starts, completed when it ends.
-- An attempt without an outcome was interrupted (the notifier died or was stopped mid-send).
CREATE TABLE notification_attempts (
    delivery_id bigint      NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text        CHECK (outcome IN ('delivered', 'failed', 'dead', 'released')),
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);
