-- The report rollups (issue 14; docs/decisions/0080). Kept by the projector in the same
-- transaction as the rows and offsets, so a replay from the start rebuilds them identically
-- and every report reads a few thousand rollup rows instead of the cases.

-- Counters per calendar day (in the policy's `reports.timezone`): `metric` names what is
-- counted, `key` and `sub` its breakdown; `total_us` sums business microseconds (durations).
--   opened / opened.category|channel|priority|dealer  cases by the day they opened
--   clock (key milestone, sub met|breached)            clocks by the day they ended
--   dealer.<milestone> (key dealer, sub met|breached)  the dealer clocks per dealer
--   duration.first_response|resolution (key bucket)    business-time histogram (decision 0080)
--   resolved, reopened, root_cause (key category)      by the day of the event
--   revisit (key outcome, sub score)                   by the day of the outcome
--   escalation (key tier, sub reason)                  fired steps, by the day they fired
CREATE TABLE reporting_daily (
    day      date   NOT NULL,
    metric   text   NOT NULL,
    key      text   NOT NULL,
    sub      text   NOT NULL,
    cases    bigint NOT NULL,
    total_us bigint NOT NULL,
    PRIMARY KEY (metric, day, key, sub)
);

-- Per owner: cases not closed, of them sensitive, every case held, resolved at least once,
-- reopened at least once (the seed-002 load view).
CREATE TABLE reporting_agents (
    owner          text   PRIMARY KEY,
    open           bigint NOT NULL,
    sensitive_open bigint NOT NULL,
    cases          bigint NOT NULL,
    resolved       bigint NOT NULL,
    reopened       bigint NOT NULL
);

-- Set by the projector (SQL) once the escalations topic names the case; never cleared.
ALTER TABLE reporting_cases ADD COLUMN escalated boolean NOT NULL DEFAULT false;
-- The earliest due instant of a running clock (NULL while paused): overdue = next_due_at < now.
ALTER TABLE reporting_cases ADD COLUMN next_due_at timestamptz;
-- The agents report's per-owner overdue and escalated counts read only open cases, here.
CREATE INDEX reporting_cases_open_owner ON reporting_cases (owner)
    INCLUDE (escalated, next_due_at) WHERE status <> 'closed' AND owner IS NOT NULL;
