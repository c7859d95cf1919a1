-- Version 6: plugins' kv state, and each tenant's usage of its quota, kept
-- in the same transaction as the key a write changes.

CREATE TABLE plugin_state (
    tenant text NOT NULL,
    plugin text NOT NULL,
    key text NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (tenant, plugin, key)
);

CREATE TABLE kv_usage (
    tenant text PRIMARY KEY,
    keys bigint NOT NULL,
    bytes bigint NOT NULL
);

ALTER TABLE plugin_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE plugin_state FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON plugin_state USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE kv_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE kv_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON kv_usage USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
