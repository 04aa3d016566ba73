-- Follow-up: what the service knows of each case, every callback ever scheduled, the small
-- queue of callbacks that are due, recorded outcomes, and the case events already applied.

CREATE TABLE followup_cases (
    case_id uuid PRIMARY KEY,
    priority text,
    owner text,
    timezone text,
    customer jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The last resolution, and the last close or reopen seen: a resolution before that end
    -- owes no revisit (events compared by their instants, whatever order they are read in).
    resolved_at timestamptz,
    resolve_event_id uuid,
    ended_at timestamptz,
    ended_event_id uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The ledger: one row per callback for its whole life. Rows waiting for their time are
-- 'scheduled'; the promoter moves the visible ones to the queue in batches ('queued').
CREATE TABLE followup_callbacks (
    callback_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('revisit', 'promise')),
    promise_id text,
    source_event_id uuid,
    -- The instant of the event that made it (the resolution, the promise).
    origin_at timestamptz,
    status text NOT NULL
        CHECK (status IN ('scheduled', 'queued', 'done', 'flagged', 'cancelled')),
    attempt integer NOT NULL DEFAULT 1,
    priority_rank smallint NOT NULL DEFAULT 5,
    team text,
    due_at timestamptz,
    visible_at timestamptz,
    last_outcome text,
    flag text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX followup_callbacks_waiting ON followup_callbacks (visible_at)
    WHERE status = 'scheduled';
CREATE INDEX followup_callbacks_case ON followup_callbacks (case_id);
CREATE INDEX followup_callbacks_flagged ON followup_callbacks (flag, updated_at)
    WHERE flag IS NOT NULL;

-- The ready table: only callbacks that are visible and not yet settled (tens of thousands at
-- most, whatever the ledger holds). Every lease rewrites a row here, so it is vacuumed after
-- a fixed number of dead rows rather than a fraction of the table, and never throttled.
CREATE TABLE followup_queue (
    callback_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    kind text NOT NULL,
    attempt integer NOT NULL,
    priority_rank smallint NOT NULL,
    due_at timestamptz NOT NULL,
    promise_id text,
    team text,
    customer jsonb NOT NULL DEFAULT '{}'::jsonb,
    lease_token uuid,
    leased_until timestamptz,
    agent_id text,
    leases integer NOT NULL DEFAULT 0
) WITH (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 5000,
    autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0
);
-- Free rows in lease order; the lease reads this index and nothing else.
CREATE INDEX followup_queue_free ON followup_queue (priority_rank, due_at)
    WHERE leased_until IS NULL;
CREATE INDEX followup_queue_free_due ON followup_queue (due_at) WHERE leased_until IS NULL;
CREATE INDEX followup_queue_leased ON followup_queue (leased_until)
    WHERE leased_until IS NOT NULL;

-- One row per lease that got an outcome: a retried request with the same token replays it.
CREATE TABLE followup_outcomes (
    lease_token uuid PRIMARY KEY,
    callback_id uuid NOT NULL,
    attempt integer NOT NULL,
    outcome text NOT NULL,
    request jsonb NOT NULL,
    answer jsonb NOT NULL,
    event_ids uuid[] NOT NULL,
    recorded_at timestamptz NOT NULL,
    UNIQUE (callback_id, attempt)
);

-- Case events already applied (dedupe on event_id); swept after the retention period.
CREATE TABLE followup_seen_events (
    event_id uuid PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_vacuum_scale_factor = 0.02);
CREATE INDEX followup_seen_events_age ON followup_seen_events (seen_at);
