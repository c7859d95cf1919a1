-- Version 4: the inbox, plugin versions, recorded step calls, the
-- operator's catalog, and the people who sign in to the console.
--
-- Sessions and login links are keyed by the SHA-256 of their token and
-- belong to no tenant's scope (a cookie names no tenant; the record does,
-- and the engine checks it on every request). The catalog is the
-- operator's. Everything else is a tenant's, under row-level security.

CREATE TABLE inbox (
    tenant text NOT NULL,
    conversation text NOT NULL,
    entry bytea NOT NULL,
    since bigint NOT NULL,
    PRIMARY KEY (tenant, conversation)
);

CREATE TABLE plugin_versions (
    tenant text NOT NULL,
    binding text NOT NULL,
    seq bigint NOT NULL,
    canary boolean NOT NULL,
    version bytea NOT NULL,
    PRIMARY KEY (tenant, binding, seq)
);

CREATE TABLE withdrawn_components (
    tenant text NOT NULL,
    binding text NOT NULL,
    component text NOT NULL,
    PRIMARY KEY (tenant, binding, component)
);

CREATE SEQUENCE step_call_seq;
CREATE TABLE step_calls (
    tenant text NOT NULL,
    at bigint NOT NULL,
    seq bigint NOT NULL,
    record bytea NOT NULL,
    PRIMARY KEY (tenant, at, seq)
);

CREATE TABLE catalog (
    name text NOT NULL,
    version text NOT NULL,
    entry bytea NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE staff (
    tenant text NOT NULL,
    id text NOT NULL,
    record bytea NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    record bytea NOT NULL
);

CREATE TABLE login_links (
    token_hash bytea PRIMARY KEY,
    record bytea NOT NULL
);

ALTER TABLE inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON inbox USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE plugin_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE plugin_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON plugin_versions USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE withdrawn_components ENABLE ROW LEVEL SECURITY;
ALTER TABLE withdrawn_components FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON withdrawn_components USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE step_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE step_calls FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON step_calls USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));

ALTER TABLE staff ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON staff USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''));
