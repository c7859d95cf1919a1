// The web chat widget in Debian's Chromium, against a running `switchboard
// serve` (run.sh starts one with the example tenants and sets SWITCHBOARD_URL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.SWITCHBOARD_URL;
if (!base) throw new Error('SWITCHBOARD_URL is not set; run tests/browser/run.sh');

const botSays = (page, text) =>
  page.locator('.sb-bot', { hasText: text }).first().waitFor({ timeout: 15000 });

test('the widget chats over a WebSocket, survives a reload and shows an agent reply as it happens', async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
  try {
    const page = await browser.newPage({ locale: 'ru-RU' });
    await page.goto(`${base}/chat/moving`);
    await page.waitForFunction(() => window.switchboardWidget && window.switchboardWidget.transport === 'websocket');

    await page.fill('.sb-form input', 'Сколько стоит переезд?');
    await page.press('.sb-form input', 'Enter');
    await botSays(page, 'Насколько срочно?');
    const buttons = page.locator('.sb-replies button');
    assert.deepEqual(await buttons.allTextContents(), ['Обычно', 'Срочно', 'Сегодня']);

    await buttons.filter({ hasText: 'Срочно' }).click();
    await botSays(page, 'Есть сложности');

    // A reload keeps the conversation: the history is there and the next answer continues it.
    const session = await page.evaluate(() => window.switchboardWidget.session);
    await page.reload();
    await page.waitForFunction(() => window.switchboardWidget.transport === 'websocket');
    assert.equal(await page.evaluate(() => window.switchboardWidget.session), session);
    await botSays(page, 'Насколько срочно?');
    await page.locator('.sb-replies button', { hasText: 'Пианино' }).click();
    await botSays(page, 'Сколько примерно километров');

    // An agent's reply arrives without the visitor doing anything.
    const reply = await fetch(`${base}/v1/tenants/moving/conversations/web:${session}/reply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo-moving-token' },
      body: JSON.stringify({ text: 'Здравствуйте, это Анна из Swift Movers.' }),
    });
    assert.equal(reply.status, 200);
    await botSays(page, 'это Анна');
  } finally {
    await browser.close();
  }
});

// Issue 12, L6: the session id is the visitor's only credential for their
// conversation, so it comes from the browser's CSPRNG, never Math.random.
test('the widget makes its session id without Math.random', async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
  try {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      Math.random = () => { throw new Error('Math.random is not for session ids'); };
    });
    const ids = [];
    for (let visitor = 0; visitor < 2; visitor++) {
      const page = await context.newPage();
      await page.goto(`${base}/chat/moving`);
      await page.waitForFunction(() => window.switchboardWidget && window.switchboardWidget.session);
      ids.push(await page.evaluate(() => window.switchboardWidget.session));
      await page.evaluate(() => localStorage.clear());
      await page.close();
    }
    for (const id of ids) assert.match(id, /^web-[0-9a-f]{32}$/);
    assert.notEqual(ids[0], ids[1]);
  } finally {
    await browser.close();
  }
});
