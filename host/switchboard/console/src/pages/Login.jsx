import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';

export function Login({ onSignedIn, linkError }) {
  const [operatorMode, setOperatorMode] = useState(false);
  const [tenant, setTenant] = useState('');
  const [staff, setStaff] = useState('');
  const [password, setPassword] = useState('');
  const [operatorKey, setOperatorKey] = useState('');
  const [error, setError] = useState(null);
  const [waitUntil, setWaitUntil] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [busy, setBusy] = useState(false);

  // Count the Retry-After wait down.
  useEffect(() => {
    if (!waitUntil) return undefined;
    const timer = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= waitUntil) setWaitUntil(0);
    }, 500);
    return () => clearInterval(timer);
  }, [waitUntil]);

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    const body = operatorMode ? { operator_key: operatorKey } : { tenant: tenant.trim(), staff: staff.trim(), password };
    try {
      const session = await api('POST', '/v1/session/login', body, { quiet401: true });
      setWaitUntil(0);
      onSignedIn(session);
    } catch (failure) {
      if (failure.status === 429) {
        const seconds = failure.retryAfter ?? 60;
        setNow(Date.now());
        setWaitUntil(Date.now() + seconds * 1000);
        setError(null);
      } else {
        setWaitUntil(0);
        setError(failure.status === 0 ? t('error.network') : failure.message || t('login.failed'));
      }
    } finally {
      setBusy(false);
    }
  };

  const wait = waitUntil ? Math.max(0, Math.ceil((waitUntil - now) / 1000)) : 0;

  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit} data-testid="login-form">
        <h1>{t('login.title')}</h1>
        <p class="muted">{operatorMode ? t('login.operator_hint') : t('login.hint')}</p>
        {linkError && (
          <p class="alert" role="alert" data-testid="login-error">
            {linkError}
          </p>
        )}
        {operatorMode ? (
          <label class="field">
            <span>{t('login.operator_key')}</span>
            <input
              type="password"
              data-testid="login-operator-key"
              autocomplete="current-password"
              value={operatorKey}
              onInput={(event) => setOperatorKey(event.currentTarget.value)}
              required
            />
          </label>
        ) : (
          <>
            <label class="field">
              <span>{t('login.tenant')}</span>
              <input
                data-testid="login-tenant"
                name="tenant"
                autocomplete="organization"
                autocapitalize="off"
                spellcheck={false}
                value={tenant}
                onInput={(event) => setTenant(event.currentTarget.value)}
                required
              />
            </label>
            <label class="field">
              <span>{t('login.staff')}</span>
              <input
                data-testid="login-staff"
                name="username"
                autocomplete="username"
                autocapitalize="off"
                spellcheck={false}
                value={staff}
                onInput={(event) => setStaff(event.currentTarget.value)}
                required
              />
            </label>
            <label class="field">
              <span>{t('login.password')}</span>
              <input
                type="password"
                data-testid="login-password"
                name="password"
                autocomplete="current-password"
                value={password}
                onInput={(event) => setPassword(event.currentTarget.value)}
                required
              />
            </label>
          </>
        )}
        {error && (
          <p class="alert" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        {wait > 0 && (
          <p class="alert" role="alert" data-testid="login-wait">
            {t('login.too_many', { n: wait })}
          </p>
        )}
        <button type="submit" class="btn primary wide" data-testid="login-submit" disabled={busy}>
          {busy ? t('common.wait') : t('login.submit')}
        </button>
        <button
          type="button"
          class="btn link"
          data-testid="login-mode"
          onClick={() => {
            setOperatorMode(!operatorMode);
            setError(null);
          }}
        >
          {operatorMode ? t('login.as_staff') : t('login.as_operator')}
        </button>
      </form>
    </div>
  );
}
