// Small pieces the pages share.
import { t, tOr } from '../i18n.js';

export const CHANNELS = ['webchat', 'whatsapp', 'telegram', 'messenger', 'instagram', 'internal'];
export const PRIORITIES = ['urgent', 'high', 'normal', 'low'];

export const channelName = (channel) => tOr(`channel.${channel}`, channel || '—');

export function ChannelTag({ channel }) {
  return <span class={`tag ch ch-${channel}`}>{channelName(channel)}</span>;
}

export function PriorityTag({ priority }) {
  if (!priority) return null;
  return <span class={`tag pr pr-${priority}`}>{tOr(`priority.${priority}`, priority)}</span>;
}

/** A conversation's status object as a short phrase. */
export function statusText(status) {
  if (!status || !status.status) return '—';
  if (status.status === 'bot') return t('status.bot');
  if (status.status === 'human') {
    return status.assignee ? t('status.human_with', { who: status.assignee }) : t('status.human_waiting');
  }
  if (status.status === 'ended') return t('status.ended', { state: tOr(`state.${status.state}`, status.state || '') });
  return status.status;
}

export function Empty({ children }) {
  return <p class="empty">{children}</p>;
}

/** Horizontal bars for `{label: n}`, biggest first. */
export function BarList({ data, label = (key) => key, testid, tone }) {
  const entries = Object.entries(data || {})
    .filter(([, value]) => typeof value === 'number')
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const max = entries.reduce((most, [, value]) => Math.max(most, value), 0);
  return (
    <div class="barlist" data-testid={testid}>
      {entries.length === 0 ? (
        <Empty>{t('common.no_data')}</Empty>
      ) : (
        entries.map(([key, value]) => (
          <div class="barrow" key={key} data-key={key}>
            <span class="barlabel" title={key}>
              {label(key)}
            </span>
            <span class="bartrack">
              <span class={`bar ${tone || ''}`} style={{ width: `${max > 0 ? Math.max(2, (value / max) * 100) : 0}%` }} />
            </span>
            <span class="barvalue">{value}</span>
          </div>
        ))
      )}
    </div>
  );
}
