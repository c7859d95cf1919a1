-- Version 5: KPI tallies folded from the event log. A fold's days, marks
-- and checkpoint commit together, and only if the checkpoint is still the
-- one the fold started from, so two nodes folding at once count once.

CREATE TABLE kpi_state (
    tenant text PRIMARY KEY,
    checkpoint bigint
);

CREATE TABLE kpi_days (
    tenant text NOT NULL,
    day integer NOT NULL,
    tally bytea NOT NULL,
    PRIMARY KEY (tenant, day)
);

CREATE TABLE kpi_marks (
    tenant text NOT NULL,
    conversation text NOT NULL,
    marks bytea NOT NULL,
    PRIMARY KEY (tenant, conversation)
);

ALTER TABLE kpi_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE kpi_state FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON kpi_state USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE kpi_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE kpi_days FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON kpi_days USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE kpi_marks ENABLE ROW LEVEL SECURITY;
ALTER TABLE kpi_marks FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON kpi_marks USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
