-- Version 7: retiring a removed tenant. Its rows move to the name
-- 'retired/{at}/{tenant}' in one transaction, out of its name's reach, so a
-- new tenant of that name starts empty. Row-level security lets a tenant's
-- own transaction move its rows only to the name it set as
-- 'switchboard.retiring' (a name no tenant can have: tenant names have no
-- '/'), and see them there (an UPDATE with a WHERE clause must). Nothing
-- else sets it. Its timers and delivery lanes are deleted, not moved.

CREATE POLICY retiring ON conversations FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON conversations FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON inbound FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON inbound FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON event_heads FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON event_heads FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON events FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON events FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON outbox FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON outbox FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON parked_outbox FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON parked_outbox FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON identities FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON identities FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON contact_points FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON contact_points FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON api_keys FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON api_keys FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON flows FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON flows FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON plugin_configs FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON plugin_configs FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON numbers FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON numbers FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON inbox FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON inbox FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON plugin_versions FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON plugin_versions FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON withdrawn_components FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON withdrawn_components FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON step_calls FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON step_calls FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON staff FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON staff FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON kpi_state FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON kpi_state FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON kpi_days FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON kpi_days FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON kpi_marks FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON kpi_marks FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON plugin_state FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON plugin_state FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retiring ON kv_usage FOR UPDATE
    USING (tenant = NULLIF(current_setting('switchboard.tenant', true), ''))
    WITH CHECK (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
CREATE POLICY retired ON kv_usage FOR SELECT USING (tenant = NULLIF(current_setting('switchboard.retiring', true), ''));
