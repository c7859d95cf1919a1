-- Version 3: what a tenant's conversations and API rely on besides turns.
-- Blobs (components, flow sources) are shared, named by their SHA-256,
-- and hold no tenant's data; everything else is a tenant's, under
-- row-level security.

-- Which conversation a channel identity continues.
CREATE TABLE identities (
    tenant text NOT NULL,
    identity text NOT NULL,
    conversation text NOT NULL,
    PRIMARY KEY (tenant, identity)
);

-- Which conversation verified a phone or an email first.
CREATE TABLE contact_points (
    tenant text NOT NULL,
    kind text NOT NULL,
    value text NOT NULL,
    conversation text NOT NULL,
    PRIMARY KEY (tenant, kind, value)
);

-- API keys, as SHA-256 hashes of their secrets.
CREATE TABLE api_keys (
    tenant text NOT NULL,
    id text NOT NULL,
    key bytea NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE blobs (
    hash text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    bytes bytea NOT NULL
);

CREATE TABLE flows (
    tenant text NOT NULL,
    version text NOT NULL,
    hash text NOT NULL REFERENCES blobs (hash),
    PRIMARY KEY (tenant, version)
);

CREATE TABLE plugin_configs (
    tenant text NOT NULL,
    hash text NOT NULL,
    text text NOT NULL,
    PRIMARY KEY (tenant, hash)
);

-- Per-tenant sequences: return and booking numbers.
CREATE TABLE numbers (
    tenant text NOT NULL,
    sequence text NOT NULL,
    last bigint NOT NULL,
    PRIMARY KEY (tenant, sequence)
);

ALTER TABLE identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE identities FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON identities USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE contact_points ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_points FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON contact_points USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON api_keys USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE flows ENABLE ROW LEVEL SECURITY;
ALTER TABLE flows FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON flows USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE plugin_configs ENABLE ROW LEVEL SECURITY;
ALTER TABLE plugin_configs FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON plugin_configs USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE numbers FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON numbers USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
