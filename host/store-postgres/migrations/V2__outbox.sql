-- Version 2: delivery across nodes. Parked replies (those that cannot go
-- as they are), and delivery lanes: a node claims a conversation's lane
-- before sending its replies, for a lease it renews while it sends, so
-- two nodes never send one conversation's replies at once.

CREATE TABLE parked_outbox (
    tenant text NOT NULL,
    seq bigint NOT NULL,
    conversation text NOT NULL,
    entry bytea NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE TABLE outbox_lanes (
    tenant text NOT NULL,
    lane text NOT NULL,
    node text NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (tenant, lane)
);

ALTER TABLE parked_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE parked_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON parked_outbox USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE outbox_lanes ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_lanes FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON outbox_lanes USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
