-- Version 9: the tenant catalog. Each tenant's directory (tenant.toml,
-- flow, calendar, bindings, configs, components named by hash, channel
-- secrets) as one bundle the host seals with the operator's key, under a
-- revision every node follows. A removed tenant keeps its row with no
-- bundle, so a node that was away learns of the removal; the row stays
-- when the tenant's data is retired (it is the removal itself).

CREATE TABLE tenant_catalog (
    tenant text PRIMARY KEY,
    revision bigint NOT NULL CHECK (revision > 0),
    bundle bytea,
    at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tenant_catalog ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_catalog FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON tenant_catalog USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
-- The nodes list every tenant's revision to follow the catalog.
CREATE POLICY nodes ON tenant_catalog FOR SELECT USING (current_setting('switchboard.scope', true) = 'all-tenants');
