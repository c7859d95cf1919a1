import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t, tOr } from '../i18n.js';
import { number, shortHash } from '../format.js';
import { Empty } from '../components/bits.jsx';

export function Operator() {
  const [overview, setOverview] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);

  const load = () => {
    setLoading(true);
    api('GET', '/v1/admin/overview')
      .then((answer) => {
        setOverview(answer);
        setError(null);
      })
      .catch((failure) => setError(failure.message))
      .finally(() => setLoading(false));
  };

  useEffect(() => {
    load();
    const timer = setInterval(load, 30000);
    return () => clearInterval(timer);
  }, []);

  const tenants = (overview && overview.tenants) || [];
  // Columns the server sends (older and newer servers differ a little).
  const has = (key) => tenants.some((tenant) => typeof tenant[key] === 'number');
  const showEvents = has('events_today');
  const showRuns = has('step_runs_today');
  const health = (overview && overview.health) || null;
  const metrics = (overview && overview.metrics) || '/metrics';

  return (
    <div class="operator">
      <div class="operator-head">
        <h1>{t('op.title')}</h1>
        <button type="button" class="btn ghost small" data-testid="operator-refresh" disabled={loading} onClick={load}>
          {t('common.refresh')}
        </button>
      </div>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {overview && (
        <section class="card health" data-testid="health">
          <h2>{t('op.health')}</h2>
          <div class="health-row">
            {health && typeof health === 'object' && (
              <>
                <span class={health.ready ? 'pill good' : 'pill bad'}>{health.ready ? t('op.ready') : t('op.not_ready')}</span>
                <span>
                  {t('op.store')}: <span class="mono">{health.store || '—'}</span>
                </span>
              </>
            )}
            {typeof health === 'string' && (
              <a href={health} target="_blank" rel="noopener" data-testid="health-link">
                {t('op.readiness')} ({health})
              </a>
            )}
            <a href={metrics} target="_blank" rel="noopener" data-testid="metrics-link">
              {t('op.metrics')} ({metrics})
            </a>
          </div>
        </section>
      )}
      <section class="card">
        <h2>{t('op.tenants')}</h2>
        {!overview && !error && <Empty>{t('common.loading')}</Empty>}
        {overview && tenants.length === 0 && <Empty>{t('op.no_tenants')}</Empty>}
        <div class="table-wrap">
          <table class="table" data-testid="operator-tenants">
            <thead>
              <tr>
                <th>{t('op.tenant')}</th>
                <th>{t('op.status')}</th>
                {showEvents && <th class="num">{t('op.events')}</th>}
                <th class="num">{t('op.conversations')}</th>
                <th class="num">{t('op.handoffs')}</th>
                {showRuns && <th class="num">{t('op.runs')}</th>}
                <th class="num">{t('op.failures')}</th>
                <th class="num">{t('op.error_rate')}</th>
                <th>{t('op.flow')}</th>
                <th>{t('op.plugins')}</th>
              </tr>
            </thead>
            <tbody>
              {tenants.map((tenant) => (
                <tr key={tenant.name} data-tenant={tenant.name}>
                  <td>
                    <strong>{tenant.display_name || tenant.name}</strong>
                    {tenant.display_name && tenant.display_name !== tenant.name && <div class="muted small mono">{tenant.name}</div>}
                  </td>
                  <td data-label={t('op.status')}>
                    <span class={`pill ${tenant.status === 'serving' ? 'good' : tenant.status === 'failed' ? 'bad' : 'warn'}`}>
                      {tOr(`op.status_${tenant.status}`, tenant.status || '—')}
                    </span>
                  </td>
                  {showEvents && (
                    <td data-label={t('op.events')} class="num">
                      {count(tenant.events_today)}
                    </td>
                  )}
                  <td data-label={t('op.conversations')} class="num">{count(tenant.conversations_today)}</td>
                  <td data-label={t('op.handoffs')} class="num">{count(tenant.handoffs_today)}</td>
                  {showRuns && (
                    <td data-label={t('op.runs')} class="num">
                      {count(tenant.step_runs_today)}
                    </td>
                  )}
                  <td data-label={t('op.failures')} class={tenant.step_failures_today > 0 ? 'num bad-text' : 'num'}>{count(tenant.step_failures_today)}</td>
                  <td data-label={t('op.error_rate')} class={tenant.error_rate > 0.05 ? 'num bad-text' : 'num'}>
                    {typeof tenant.error_rate === 'number' ? `${number(tenant.error_rate * 100, 1)} %` : '—'}
                  </td>
                  <td data-label={t('op.flow')} class="mono small">{tenant.flow_version != null ? shortHash(tenant.flow_version) : '—'}</td>
                  <td data-label={t('op.plugins')}>
                    <ul class="plugins">
                      {(tenant.plugins || []).map((plugin) => (
                        <li key={plugin.binding}>
                          <span>{plugin.binding}</span>{' '}
                          <span class="mono small" title={plugin.component || ''}>
                            {shortHash(plugin.component)}
                          </span>
                          {plugin.seq != null && <span class="muted small"> #{plugin.seq}</span>}
                          {plugin.canary && <Canary canary={plugin.canary} />}
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}

function Canary({ canary }) {
  const hash = typeof canary === 'object' ? canary.component : canary;
  const share = typeof canary === 'object' && typeof canary.percent === 'number' ? ` · ${canary.percent} %` : '';
  const shadow = typeof canary === 'object' && canary.shadow ? ` · ${t('op.shadow')}` : '';
  return (
    <span class="pill warn small" title={String(hash || '')}>
      {t('op.canary')} {shortHash(hash)}
      {share}
      {shadow}
    </span>
  );
}

const count = (value) => (typeof value === 'number' ? number(value) : '—');
