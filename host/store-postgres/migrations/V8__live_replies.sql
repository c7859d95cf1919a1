-- Version 8: live web chat across nodes. A reply committed on one node is
-- kept here for a few minutes and announced with NOTIFY switchboard_live
-- (the payload names the tenant, visitor and row, never the text); the node
-- holding the visitor's open session reads it, in the tenant's scope.

CREATE TABLE live_replies (
    tenant text NOT NULL,
    id bigserial NOT NULL,
    recipient text NOT NULL,
    replies bytea NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);
CREATE INDEX live_replies_by_age ON live_replies (tenant, at);

ALTER TABLE live_replies ENABLE ROW LEVEL SECURITY;
ALTER TABLE live_replies FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON live_replies USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
CREATE POLICY retiring ON live_replies FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON live_replies FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
