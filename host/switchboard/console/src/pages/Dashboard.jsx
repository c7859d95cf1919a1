import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, paths, query } from '../api.js';
import { t, tOr } from '../i18n.js';
import { duration, isoDay, kpiValue, number, shortDay, shortHash, valueOf } from '../format.js';
import { BarList, CHANNELS, Empty, channelName } from '../components/bits.jsx';
import { Sparkline } from '../components/Sparkline.jsx';

// The channel standards: how soon a person answers after a handoff, and
// how soon the first answer comes on every channel.
const HUMAN_STANDARD = { webchat: 60e3, whatsapp: 300e3, instagram: 300e3, telegram: 900e3, messenger: 900e3, internal: 7200e3 };
const FIRST_STANDARD = 30e3;
const STANDARD_KPIS = [
  ['first_response_time', () => FIRST_STANDARD],
  ['human_response_time', (channel) => HUMAN_STANDARD[channel]],
];
const FUNNEL_STEPS = new Set(['started', 'quote', 'offer', 'decision', 'closed']);

// The dashboard's controls outlive a visit to the inbox.
const remembered = { span: '30', from: '', to: '', granularity: 'day', channel: '', intent: '' };

// The last N days end today in the tenant's zone, which only the server
// knows (a salon in Yerevan is a day ahead of a browser in the evening in
// Lisbon): ask for `days`, not for dates.
function spanDays(span) {
  return { days: parseInt(span, 10) };
}

export function Dashboard({ tenant }) {
  const [controls, setControls] = useState({ ...remembered });
  const [definitions, setDefinitions] = useState(null);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [intents, setIntents] = useState([]);

  const set = (key, value) => {
    remembered[key] = value;
    setControls((now) => ({ ...now, [key]: value }));
  };

  const range = controls.span === 'custom' ? { from: controls.from, to: controls.to } : spanDays(controls.span);

  useEffect(() => {
    api('GET', `${paths.tenant(tenant)}/kpis/definitions`)
      .then((answer) => setDefinitions(Array.isArray(answer) ? answer : (answer && answer.definitions) || []))
      .catch((failure) => setError(failure.message));
  }, [tenant]);

  useEffect(() => {
    if (controls.span === 'custom' && (!range.from || !range.to)) return undefined;
    let live = true;
    setLoading(true);
    api(
      'GET',
      `${paths.tenant(tenant)}/kpis${query({ days: range.days, from: range.from, to: range.to, granularity: controls.granularity, channel: controls.channel, intent: controls.intent })}`,
    )
      .then((answer) => {
        if (!live) return;
        setReport(answer);
        setError(null);
        const seen = new Set([...Object.keys((answer && answer.by_intent) || {}), ...Object.keys((answer && answer.total && answer.total.funnels) || {})]);
        setIntents((known) => [...new Set([...known, ...seen])].sort());
      })
      .catch((failure) => live && setError(failure.message))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [tenant, range.days, range.from, range.to, controls.span, controls.granularity, controls.channel, controls.intent]);

  const total = (report && report.total) || {};
  const kpis = total.kpis || {};
  const series = (report && report.series) || [];

  const groups = useMemo(() => {
    const byScenario = new Map();
    for (const definition of definitions || []) {
      if (!byScenario.has(definition.scenario)) byScenario.set(definition.scenario, []);
      byScenario.get(definition.scenario).push(definition);
    }
    return [...byScenario.entries()].sort((a, b) => a[0] - b[0]);
  }, [definitions]);

  return (
    <div class="dashboard" data-testid="dashboard" aria-busy={loading}>
      <div class="controls card">
        <label>
          <span>{t('dash.span')}</span>
          <select data-testid="dash-span" value={controls.span} onChange={(e) => set('span', e.currentTarget.value)}>
            <option value="7">{t('dash.last_n', { n: 7 })}</option>
            <option value="30">{t('dash.last_n', { n: 30 })}</option>
            <option value="90">{t('dash.last_n', { n: 90 })}</option>
            <option value="custom">{t('dash.custom')}</option>
          </select>
        </label>
        {controls.span === 'custom' && (
          <>
            <label>
              <span>{t('dash.from')}</span>
              <input type="date" data-testid="dash-from" value={controls.from} max={controls.to || undefined} onChange={(e) => set('from', e.currentTarget.value)} />
            </label>
            <label>
              <span>{t('dash.to')}</span>
              <input type="date" data-testid="dash-to" value={controls.to} min={controls.from || undefined} onChange={(e) => set('to', e.currentTarget.value)} />
            </label>
          </>
        )}
        <label>
          <span>{t('dash.granularity')}</span>
          <select data-testid="dash-granularity" value={controls.granularity} onChange={(e) => set('granularity', e.currentTarget.value)}>
            <option value="day">{t('dash.day')}</option>
            <option value="week">{t('dash.week')}</option>
          </select>
        </label>
        <label>
          <span>{t('inbox.channel')}</span>
          <select data-testid="dash-channel" value={controls.channel} onChange={(e) => set('channel', e.currentTarget.value)}>
            <option value="">{t('inbox.any_channel')}</option>
            {CHANNELS.map((channel) => (
              <option value={channel} key={channel}>
                {channelName(channel)}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>{t('dash.intent')}</span>
          <select data-testid="dash-intent" value={controls.intent} onChange={(e) => set('intent', e.currentTarget.value)}>
            <option value="">{t('dash.any_intent')}</option>
            {[...new Set([...intents, controls.intent].filter(Boolean))].map((intent) => (
              <option value={intent} key={intent}>
                {intent}
              </option>
            ))}
          </select>
        </label>
        {report && (
          <p class="muted small span-note">
            {report.from} — {report.to}
            {report.zone ? ` · ${report.zone}` : ''}
          </p>
        )}
      </div>

      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {!report && !error && <Empty>{t('common.loading')}</Empty>}

      {report && (
        <>
          {groups.map(([scenario, list]) => (
            <section class="kpi-group" key={scenario} data-scenario={scenario}>
              <h2>{tOr(`scenario.${scenario}`, t('dash.scenario_n', { n: scenario }))}</h2>
              <div class="kpi-grid">
                {list.map((definition) => (
                  <KpiCard key={definition.id} definition={definition} entry={kpis[definition.id]} series={series} />
                ))}
              </div>
            </section>
          ))}

          <section class="panel card" data-testid="channel-standards">
            <h2>{t('dash.standards')}</h2>
            <Standards byChannel={report.by_channel || {}} definitions={definitions || []} />
          </section>

          <div class="panels">
            <section class="panel card wide" data-testid="funnel">
              <h2>{t('dash.funnels')}</h2>
              <Funnels funnels={total.funnels || {}} />
            </section>
            <section class="panel card">
              <h2>{t('dash.terminal_states')}</h2>
              <BarList testid="terminal-states" data={total.terminal_states} label={(key) => tOr(`state.${key}`, key)} />
            </section>
            <section class="panel card">
              <h2>{t('dash.handoff_reasons')}</h2>
              <BarList testid="handoff-reasons" data={total.handoffs} label={(key) => tOr(`cause.${key}`, key)} />
            </section>
            <section class="panel card">
              <h2>{t('dash.failures_by_version')}</h2>
              <BarList testid="failures-by-version" data={total.step_failures_by_version} label={shortHash} tone="bad" />
            </section>
            <section class="panel card">
              <h2>{t('dash.failures_by_code')}</h2>
              <BarList testid="failures-by-code" data={total.step_failures} tone="bad" />
            </section>
            <section class="panel card">
              <h2>{t('dash.churn')}</h2>
              <BarList testid="churn-reasons" data={total.churn_reasons} tone="warn" />
            </section>
          </div>
        </>
      )}
    </div>
  );
}

function KpiCard({ definition, entry, series }) {
  const { id, unit } = definition;
  const value = valueOf(entry);
  const title = tOr(`kpi.${id}`, definition.title || id);
  let sub = null;
  if (entry && typeof entry === 'object') {
    if (unit === 'duration' && typeof entry.p90 === 'number') sub = t('dash.p90', { v: duration(entry.p90) });
    else if (unit === 'share' && typeof entry.denominator === 'number' && entry.denominator > 0)
      sub = `${number(entry.numerator || 0)} / ${number(entry.denominator)}`;
  }
  // Every KPI over time, in its own unit.
  const points = useMemo(
    () =>
      series.map((period) => ({
        x: Date.parse(`${period.start}T00:00:00Z`) / 1000,
        y: valueOf(period.kpis && period.kpis[id]),
        label: shortDay(period.start),
      })),
    [series, id],
  );
  const anyPoint = points.some((point) => point.y !== null);
  return (
    <article class="kpi card" data-testid="kpi-card" data-kpi={id} title={definition.definition}>
      <h3 class="kpi-title">{title}</h3>
      <div class={value === null ? 'kpi-value none' : 'kpi-value'}>{value === null ? t('common.no_data') : kpiValue(unit, value)}</div>
      <div class="kpi-sub muted small">{sub || '\u00a0'}</div>
      {anyPoint && <Sparkline points={points} format={(y) => kpiValue(unit, y)} label={title} />}
    </article>
  );
}

function Standards({ byChannel, definitions }) {
  const titleOf = (id) => {
    const definition = definitions.find((each) => each.id === id);
    return tOr(`kpi.${id}`, (definition && definition.title) || id);
  };
  const channels = Object.keys(byChannel).sort((a, b) => CHANNELS.indexOf(a) - CHANNELS.indexOf(b));
  if (channels.length === 0) return <Empty>{t('common.no_data')}</Empty>;
  return (
    <div class="standards">
      {STANDARD_KPIS.map(([id, standardOf]) => (
        <div class="standard" key={id} data-kpi={id}>
          <h3>{titleOf(id)}</h3>
          {channels.map((channel) => {
            const standard = standardOf(channel);
            const value = valueOf(byChannel[channel] && byChannel[channel][id]);
            const over = value !== null && standard && value > standard;
            const width = value === null || !standard ? 0 : Math.min(100, (value / (2 * standard)) * 100);
            return (
              <div class="barrow" key={channel} data-channel={channel} data-state={value === null ? 'none' : over ? 'over' : 'under'}>
                <span class="barlabel" title={channelName(channel)}>{channelName(channel)}</span>
                <span class="bartrack std" title={standard ? t('dash.standard_is', { v: duration(standard) }) : ''}>
                  {value !== null && <span class={over ? 'bar bad' : 'bar good'} style={{ width: `${Math.max(2, width)}%` }} />}
                  <span class="mark" />
                </span>
                <span class="barvalue wide">
                  {value === null ? t('common.no_data') : `${duration(value)} / ${standard ? duration(standard) : '—'}`}
                </span>
              </div>
            );
          })}
        </div>
      ))}
    </div>
  );
}

function Funnels({ funnels }) {
  const intents = Object.keys(funnels).sort();
  if (intents.length === 0) return <Empty>{t('common.no_data')}</Empty>;
  return (
    <div class="funnels">
      {intents.map((intent) => {
        const steps = funnels[intent] || [];
        const top = steps.reduce((most, step) => Math.max(most, step.reached || 0), 0);
        return (
          <div class="funnel-intent" key={intent} data-intent={intent}>
            <h3>{intent}</h3>
            {steps.map((step) => (
              <div class="barrow" key={step.step} data-step={step.step}>
                <span class="barlabel" title={step.step}>
                  {FUNNEL_STEPS.has(step.step) ? t(`step.${step.step}`) : step.step}
                </span>
                <span class="bartrack">
                  <span class="bar" style={{ width: `${top > 0 ? Math.max(1, (step.reached / top) * 100) : 0}%` }} />
                </span>
                <span class="barvalue wide">
                  {step.reached}
                  {step.dropped > 0 && <span class="dropped"> −{step.dropped}</span>}
                </span>
              </div>
            ))}
          </div>
        );
      })}
    </div>
  );
}
