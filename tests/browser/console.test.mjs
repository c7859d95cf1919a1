// The console in Debian's Chromium, against a real `switchboard serve --demo`
// (console.sh starts one, with salon and moving sending WhatsApp replies to
// the fake provider this test runs on PROVIDER_PORT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const base = process.env.SWITCHBOARD_URL;
const providerPort = Number(process.env.PROVIDER_PORT);
const demoLink = process.env.DEMO_LINK;
const artifacts = process.env.ARTIFACTS;
if (!base || !providerPort) throw new Error('run tests/browser/console.sh');

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };

/** The fake WhatsApp Cloud API: every message the server sends, by recipient. */
function fakeProvider() {
  const sent = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      try { sent.push({ path: request.url, body: JSON.parse(body) }); } catch { sent.push({ path: request.url, body }); }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ messages: [{ id: `wamid.fake${sent.length}` }] }));
    });
  });
  return new Promise((resolve) => server.listen(providerPort, '127.0.0.1', () => resolve({ server, sent })));
}

/** A customer's WhatsApp message, signed as Meta signs it. */
async function whatsapp(tenant, from, name, id, text) {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: 'WABA', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550000000', phone_number_id: `pn-${tenant}` },
      contacts: [{ profile: { name }, wa_id: from }],
      messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
    } }] }],
  });
  const signature = 'sha256=' + createHmac('sha256', `wa-secret-${tenant}`).update(body).digest('hex');
  const response = await fetch(`${base}/webhooks/${tenant}/whatsapp`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body,
  });
  assert.equal(response.status, 200, await response.text());
}

async function until(what, check, timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function signIn(page, tenant, staff) {
  await page.goto(`${base}/console/#/login`);
  await page.getByTestId('login-tenant').fill(tenant);
  await page.getByTestId('login-staff').fill(staff);
  await page.getByTestId('login-password').fill('demo-password');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('inbox-list').waitFor({ timeout: 15000 });
}

async function shoot(page, name) {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(150);
    await page.screenshot({ path: `${artifacts}/${name}-${size}.png`, fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

test('an agent takes a WhatsApp handoff live, replies, hands back, and sees it in the KPIs; another tenant sees none of it', async () => {
  const { server, sent } = await fakeProvider();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
  try {
    // The demo's printed link signs an agent in once; a second use is refused.
    const linked = await browser.newContext({ viewport: DESKTOP });
    const linkPage = await linked.newPage();
    await linkPage.goto(demoLink);
    await linkPage.getByTestId('inbox-list').waitFor({ timeout: 15000 });
    await linked.close();

    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${base}/console/#/login`);
    await shoot(page, 'login');
    await signIn(page, 'salon', 'lilit');
    const list = page.getByTestId('inbox-list');
    const customer = `whatsapp:3749${String(Date.now()).slice(-7)}`;
    const from = customer.slice('whatsapp:'.length);
    assert.equal(await list.locator(`[data-conversation="${customer}"]`).count(), 0);

    // A signed webhook: the customer asks for a manager, and the handoff appears without a reload.
    await whatsapp('salon', from, 'Nune', `wamid.${Date.now()}`, 'I need a manager please');
    const item = list.locator(`[data-conversation="${customer}"]`);
    await item.waitFor({ timeout: 15000 });
    await until('the badge', async () => Number(await page.getByTestId('badge').textContent()) >= 1);
    await shoot(page, 'inbox');

    await item.click();
    await page.getByTestId('transcript').getByText('I need a manager please').waitFor();
    // In the salon's opening hours the handoff goes to its front desk's
    // owner, lilit, at once ("Yours"); after hours to the on-call owner, and
    // lilit takes it over. Either way it ends hers, whatever the hour of the run.
    const take = page.getByTestId('take');
    await until('the take button to know', async () => (await take.isEnabled()) || /Yours/.test(await take.textContent()));
    if (await take.isEnabled()) await take.click();
    await until('the conversation to be mine', async () => {
      const response = await page.evaluate(async (id) => (await fetch(`/v1/tenants/salon/conversations/${encodeURIComponent(id)}`)).json(), customer);
      return response.conversation.status.assignee === 'lilit';
    });
    const text = `Hello Nune, this is Lilit (${Date.now()})`;
    await page.getByTestId('reply-input').fill(text);
    await page.getByTestId('reply-send').click();
    await page.getByTestId('transcript').getByText(text).waitFor();
    await shoot(page, 'conversation');
    // The fake provider receives the agent's reply, addressed to the customer.
    await until('the provider to receive the reply', () =>
      sent.find((message) => message.body?.to === from && JSON.stringify(message.body).includes(text)));

    await page.getByTestId('hand-back').click();
    await until('the inbox to let it go', async () => (await list.locator(`[data-conversation="${customer}"]`).count()) === 0);

    // The dashboard counts it: a round begun, handed off.
    await page.goto(`${base}/console/#/dashboard`);
    await page.getByTestId('dashboard').waitFor();
    const kpis = await until('the KPIs to count the handoff', async () => {
      const answer = await page.evaluate(async () => (await fetch('/v1/tenants/salon/kpis?granularity=day')).json());
      return answer.total.kpis.handoff_rate.numerator >= 1 && answer;
    });
    assert.ok(kpis.total.kpis.ticket_volume.value >= 1);
    assert.ok((kpis.total.handoffs.asked ?? 0) >= 1, JSON.stringify(kpis.total.handoffs));
    // The card shows it (the span is the last 30 days in the salon's zone).
    const card = page.locator('[data-testid="kpi-card"][data-kpi="handoff_rate"]');
    await until('the handoff-rate card to show a share', async () => /\d+(\.\d+)?\s*%/.test(await card.textContent()));
    await page.getByTestId('handoff-reasons').getByText('asked').first().waitFor();
    // Every KPI the server defines has its card, and the counted ones a chart.
    const definitions = await page.evaluate(async () => (await fetch('/v1/tenants/salon/kpis/definitions')).json());
    assert.equal(await page.locator('[data-testid="kpi-card"]').count(), definitions.length);
    await card.locator('canvas').first().waitFor();
    await page.locator('[data-testid="kpi-card"][data-kpi="ticket_volume"] canvas').first().waitFor();
    await page.getByTestId('handoff-reasons').waitFor();
    await shoot(page, 'dashboard');

    // Another tenant's agent sees none of it, in the console or through the API.
    const other = await browser.newContext({ viewport: DESKTOP });
    const otherPage = await other.newPage();
    await signIn(otherPage, 'moving', 'anna');
    assert.equal(await otherPage.getByTestId('inbox-list').locator(`[data-conversation="${customer}"]`).count(), 0);
    const peek = await otherPage.evaluate(async (id) => {
      const conversation = await fetch(`/v1/tenants/salon/conversations/${encodeURIComponent(id)}`);
      const inbox = await fetch('/v1/tenants/salon/inbox');
      const kpis = await fetch('/v1/tenants/salon/kpis');
      return [conversation.status, inbox.status, kpis.status];
    }, customer);
    assert.deepEqual(peek, [403, 403, 403]);
    await other.close();

    // The operator's view lists both tenants.
    const operator = await browser.newContext({ viewport: DESKTOP });
    const operatorPage = await operator.newPage();
    await operatorPage.goto(`${base}/console/#/login`);
    await operatorPage.getByTestId('login-mode').click();
    await operatorPage.getByTestId('login-operator-key').fill('console-admin-key');
    await operatorPage.getByTestId('login-submit').click();
    const tenants = operatorPage.getByTestId('operator-tenants');
    await tenants.getByText('salon').first().waitFor();
    await tenants.getByText('moving').first().waitFor();
    await shoot(operatorPage, 'operator');
    await operator.close();

    // Signing out ends the session.
    await page.getByTestId('logout').click();
    await page.waitForURL(/#\/login/);
    const after = await page.evaluate(async () => (await fetch('/v1/tenants/salon/inbox')).status);
    assert.equal(after, 401);
  } finally {
    await browser.close();
    server.close();
  }
});

test('every console string exists in Russian, Armenian and English', async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
  try {
    const seen = {};
    for (const locale of ['ru-RU', 'hy-AM', 'en-US']) {
      const context = await browser.newContext({ viewport: PHONE, locale });
      const page = await context.newPage();
      await page.goto(`${base}/console/#/login`);
      await page.getByTestId('login-submit').waitFor();
      seen[locale] = (await page.getByTestId('login-submit').textContent()).trim();
      await page.screenshot({ path: `${artifacts}/login-${locale}-phone.png`, fullPage: true });
      await context.close();
    }
    assert.equal(new Set(Object.values(seen)).size, 3, JSON.stringify(seen));
    assert.match(seen['hy-AM'], /[\u0530-\u058F]/, 'Armenian script');
    assert.match(seen['ru-RU'], /[\u0400-\u04FF]/, 'Cyrillic script');
  } finally {
    await browser.close();
  }
});
