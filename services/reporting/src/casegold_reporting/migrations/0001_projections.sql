-- The reporting projections (SPEC §5; docs/decisions/0050). Rows are written only by the
-- projector, each batch in one transaction together with the offsets it consumed, so a
-- restart resumes exactly where the tables stand and a replay from the start rebuilds them.

-- Where the projector stands: the next offset to read of every partition of both topics.
CREATE TABLE reporting_offsets (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- One row per case: its current fields, the SLA core's state (for clocks and the plan at view
-- time) and what reports aggregate. No customer phone or name is kept here.
CREATE TABLE reporting_cases (
    case_id                   uuid        PRIMARY KEY,
    -- Partition and offset of the last case event applied: a redelivery at or below is skipped.
    partition                 integer     NOT NULL,
    position                  bigint      NOT NULL,
    opened_at                 timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    status                    text        NOT NULL,
    owner                     text,
    priority                  text        NOT NULL,
    category                  text        NOT NULL,
    channel                   text        NOT NULL,
    dealer_id                 text,
    product                   text,
    external_ref              text,
    summary                   text        NOT NULL,
    sensitive                 boolean     NOT NULL,
    sensitive_reasons         text[]      NOT NULL,
    repeat                    boolean     NOT NULL,
    prior_case_ids            uuid[]      NOT NULL,
    cycle                     integer     NOT NULL,
    reopen_count              integer     NOT NULL,
    first_response_at         timestamptz,
    -- Business seconds the milestone took (the SLA's own measure), for reports' percentiles.
    first_response_seconds    double precision,
    resolved_at               timestamptz,
    resolution_seconds        double precision,
    closed_at                 timestamptz,
    root_cause_category       text,
    revisit_outcome           text,
    revisit_score             smallint,
    -- Set by a breach escalation or by a clock that ended late; never cleared.
    breached                  boolean     NOT NULL DEFAULT false,
    -- casegold_sla.dump_state of the case as JSON bytes (bytea: never queried, only reloaded,
    -- so PostgreSQL need not parse it on every write).
    state                     bytea       NOT NULL,
    -- Milestones that stopped: [{milestone, cycle, target_us, elapsed_us, ended_at, met}].
    ended_clocks              jsonb       NOT NULL
);

-- Keyset pagination is newest first on (opened_at, case_id); each filter has its own path.
CREATE INDEX reporting_cases_opened ON reporting_cases (opened_at DESC, case_id DESC);
CREATE INDEX reporting_cases_status ON reporting_cases (status, opened_at DESC, case_id DESC);
CREATE INDEX reporting_cases_owner ON reporting_cases (owner, opened_at DESC, case_id DESC);
CREATE INDEX reporting_cases_dealer ON reporting_cases (dealer_id, opened_at DESC, case_id DESC)
    WHERE dealer_id IS NOT NULL;
CREATE INDEX reporting_cases_breached ON reporting_cases (opened_at DESC, case_id DESC)
    WHERE breached;
CREATE INDEX reporting_cases_sensitive ON reporting_cases (opened_at DESC, case_id DESC)
    WHERE sensitive;

-- Every case event in topic order, with what became of it: applied, or refused and why.
CREATE TABLE reporting_timeline (
    case_id     uuid        NOT NULL,
    event_id    uuid        NOT NULL,
    partition   integer     NOT NULL,
    position    bigint      NOT NULL,
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    actor_kind  text        NOT NULL,
    actor_id    text        NOT NULL,
    -- The event's payload without the customer's contact details.
    payload     jsonb       NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('applied', 'refused', 'recorded')),
    reason      text,
    detail      text,
    -- Who refused it: the core as folded here ('projection') or the worker ('worker').
    refused_by  text,
    PRIMARY KEY (case_id, event_id)
);
CREATE INDEX reporting_timeline_order ON reporting_timeline (case_id, position);

-- One row per notice of the escalations topic (a step sends one per audience).
CREATE TABLE reporting_escalations (
    escalation_id uuid        NOT NULL,
    repeat        integer     NOT NULL,
    audience      text        NOT NULL,
    case_id       uuid        NOT NULL,
    event_id      uuid        NOT NULL,
    partition     integer     NOT NULL,
    position      bigint      NOT NULL,
    milestone     text        NOT NULL,
    cycle         integer     NOT NULL,
    step          text        NOT NULL,
    tier          smallint    NOT NULL,
    reason        text        NOT NULL,
    due_at        timestamptz NOT NULL,
    fired_at      timestamptz NOT NULL,
    late_seconds  integer     NOT NULL,
    PRIMARY KEY (escalation_id, repeat, audience)
);
CREATE INDEX reporting_escalations_case ON reporting_escalations (case_id);

-- Cases per (priority, status), kept by the projector: /metrics reads this, never the cases.
CREATE TABLE reporting_case_counts (
    priority text   NOT NULL,
    status   text   NOT NULL,
    cases    bigint NOT NULL,
    PRIMARY KEY (priority, status)
);

-- The text of every policy file a projected case was opened under (key: its version), so a
-- case's frozen policy can be rebuilt after the file changes.
CREATE TABLE reporting_policies (
    version  text PRIMARY KEY,
    text     text NOT NULL
);
