import { LANGS, t } from '../i18n.js';

export function Header({ session, page, badge, lang, onLang, onLogout }) {
  const operator = session && session.role === 'operator';
  const link = (href, label, active, extra) => (
    <a href={href} class={active ? 'nav-link active' : 'nav-link'} aria-current={active ? 'page' : undefined}>
      {label}
      {extra}
    </a>
  );
  return (
    <header class="top">
      <a class="brand" href={session ? (operator ? '#/operator' : '#/inbox') : '#/login'}>
        <span class="brand-mark" aria-hidden="true" />
        Switchboard
      </a>
      {session && (
        <nav class="nav">
          {!operator &&
            link(
              '#/inbox',
              t('nav.inbox'),
              page === 'inbox',
              <span data-testid="badge" class={badge > 0 ? 'badge hot' : 'badge'} data-count={badge} title={t('nav.badge_title')}>
                {badge}
              </span>,
            )}
          {!operator && link('#/dashboard', t('nav.dashboard'), page === 'dashboard')}
          {operator && link('#/operator', t('nav.operator'), page === 'operator')}
        </nav>
      )}
      <div class="top-end">
        {session && (
          <span class="who" title={session.staff || ''}>
            <span class="who-name">{session.name || session.staff || t('role.operator')}</span>
            <span class="who-role">
              {t(`role.${session.role}`)}
              {session.tenant ? ` · ${session.tenant}` : ''}
            </span>
          </span>
        )}
        <label class="lang">
          <span class="sr-only">{t('common.language')}</span>
          <select data-testid="lang-select" value={lang} onChange={(event) => onLang(event.currentTarget.value)}>
            {LANGS.map(([code, name]) => (
              <option value={code} key={code}>
                {name}
              </option>
            ))}
          </select>
        </label>
        {session && (
          <button type="button" class="btn ghost small" data-testid="logout" onClick={onLogout}>
            {t('nav.logout')}
          </button>
        )}
      </div>
    </header>
  );
}
