-- Less work per projected event (docs/decisions/0121). A case's timeline is read through the
-- primary key's case_id prefix and sorted by position in memory (a case has a few dozen
-- entries), so the second index, one more B-tree insert per event, goes.
DROP INDEX IF EXISTS reporting_timeline_order;
