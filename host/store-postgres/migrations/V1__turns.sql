-- Switchboard on PostgreSQL, version 1: conversations, their turns, the
-- event log and timers.
--
-- Every table is keyed tenant first. Row-level security confines every
-- statement to the tenant its transaction names
-- (set_config('switchboard.tenant', ...)): a query that forgets its tenant
-- reads and writes nothing. Only the scheduler's claim on due timers spans
-- tenants, under the scope 'all-tenants'. FORCE makes the policies bind
-- the tables' owner, which is the role Switchboard connects as.

-- JSON is stored as bytes (bytea), not jsonb: jsonb refuses the NUL a
-- customer may type, and a turn must never fail on what it was sent.

CREATE TABLE conversations (
    tenant text NOT NULL,
    id text NOT NULL,
    state bytea NOT NULL,
    -- From the state, for retention to find idle conversations.
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- Provider message ids already handled: a retry on any node is a duplicate.
CREATE TABLE inbound (
    tenant text NOT NULL,
    channel text NOT NULL,
    message_id text NOT NULL,
    handled_at bigint NOT NULL,
    PRIMARY KEY (tenant, channel, message_id)
);

-- Each tenant's last event sequence number. A writer takes the row's lock
-- when it numbers its events and keeps it until it commits, so a tenant's
-- numbers become visible in order and a reader's cursor never passes a
-- number that commits later.
CREATE TABLE event_heads (
    tenant text PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- The event log: a turn's events share a sequence number, in order by idx.
CREATE TABLE events (
    tenant text NOT NULL,
    seq bigint NOT NULL,
    idx integer NOT NULL,
    conversation text NOT NULL,
    at bigint NOT NULL,
    event bytea NOT NULL,
    PRIMARY KEY (tenant, seq, idx)
);
CREATE INDEX events_by_conversation ON events (tenant, conversation, seq, idx);

-- Replies to send, committed with their turn.
CREATE SEQUENCE outbox_seq;
CREATE TABLE outbox (
    tenant text NOT NULL,
    seq bigint NOT NULL,
    conversation text NOT NULL,
    entry bytea NOT NULL,
    lease_until timestamptz,
    PRIMARY KEY (tenant, seq)
);

-- The due-time index of timers. The timer itself lives in its
-- conversation's state; an entry its conversation no longer holds is stale.
CREATE TABLE timers (
    tenant text NOT NULL,
    conversation text NOT NULL,
    key text NOT NULL,
    due_at bigint NOT NULL,
    lease_until timestamptz,
    PRIMARY KEY (tenant, conversation, key, due_at)
);
CREATE INDEX timers_by_due ON timers (due_at);

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON conversations USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE inbound ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON inbound USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE event_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON event_heads USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON events USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON outbox USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE timers ENABLE ROW LEVEL SECURITY;
ALTER TABLE timers FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON timers USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
CREATE POLICY scheduler ON timers USING (current_setting('switchboard.scope', true) = 'all-tenants');
