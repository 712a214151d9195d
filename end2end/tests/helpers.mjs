// Steps the console's browser tests share: signing in, waiting for hydration, and making the
// endpoint and gateway a test needs, the way an admin would, through the pages.
import { expect } from '@playwright/test';
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const EMAIL = process.env.E2E_EMAIL ?? 'e2e@example.com';
export const PASSWORD = process.env.E2E_PASSWORD ?? 'e2e password 123';
export const MOCK_URL = process.env.MOCK_URL;
export const SHOTS = 'artifacts';

/** Signs in as the bootstrapped admin and lands on the dashboard. */
export async function signIn(page) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

/** Waits until the WASM has hydrated the page (an effect marks the body). */
export async function hydrated(page) {
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15_000 });
}

/** Adds an OpenAI-shaped endpoint named `name` at the mock upstream, on the Endpoints page. */
export async function addEndpoint(page, name, apiKey = 'sk-e2e-not-shown', model = 'gpt-4o-mini') {
  await page.goto('/endpoints');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Model').fill(model);
  await page.getByLabel('Base URL').fill(`${MOCK_URL}/v1`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId(`endpoint-${name}`)).toBeVisible();
}

/** Picks `endpoints` (the CLI's notation, `name[:weight[:priority]], …`) in a gateway form's
 * endpoint picker, after the rows it already has. */
export async function pickEndpoints(form, endpoints, after = 0) {
  const items = endpoints.split(',').map((item) => item.trim()).filter(Boolean);
  for (const [i, item] of items.entries()) {
    const [endpoint, weight, priority] = item.split(':');
    const n = after + i + 1;
    await form.getByRole('button', { name: 'Add an endpoint to the list' }).click();
    await form.getByLabel(`Endpoint ${n}`, { exact: true }).selectOption(endpoint);
    if (weight) await form.getByLabel(`Weight ${n}`, { exact: true }).fill(weight);
    if (priority) await form.getByLabel(`Priority ${n}`, { exact: true }).fill(priority);
  }
}

/** Adds a gateway named `name` over `endpoints` (the CLI's notation), on the Gateways page. */
export async function addGateway(page, name, endpoints) {
  await page.goto('/gateways');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await pickEndpoints(page, endpoints);
  await page.getByRole('button', { name: 'Add gateway' }).click();
  await expect(page.getByTestId(`gateway-${name}`)).toBeVisible();
}

/** Deletes the gateway `name` (and its keys) on the Gateways page, confirming. */
export async function deleteGateway(page, name) {
  await page.goto('/gateways');
  await hydrated(page);
  const card = page.getByTestId(`gateway-${name}`);
  await card.getByRole('button', { name: 'Delete' }).click();
  await card.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(card).toHaveCount(0);
}

/** Deletes the endpoint `name` on the Endpoints page, confirming. Tests that check the empty
 * lists run in the same server, so a test tidies up what it made. */
export async function deleteEndpoint(page, name) {
  await page.goto('/endpoints');
  await hydrated(page);
  const row = page.getByTestId(`endpoint-${name}`);
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(row).toHaveCount(0);
}

/** Creates a key named `name` on `gateway`, on the Keys page; returns its secret (read from the
 * show-once dialog, which it then closes). */
export async function createKey(page, gateway, name) {
  await page.goto('/keys');
  await hydrated(page);
  await page.getByLabel('Gateway').selectOption(gateway);
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await page.getByRole('dialog').getByLabel('Key').inputValue();
  await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
  return key;
}

/** Screenshots the page at 390 px wide as `<name>-390.png`, checks that nothing makes it
 * scroll sideways, and goes back to 1280 px. */
export async function phoneShot(page, name) {
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: `${SHOTS}/${name}-390.png`, fullPage: true });
  expect(overflow, `${name}: no horizontal scrolling at 390 px`).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** Collects the page's uncaught errors and console errors (hydration mismatches are reported
 * there), leaving out the browser's own notes on answers with an error status, which some
 * tests ask for. A test ends with `expect(errors).toEqual([])`. */
export function watchErrors(page, errors = []) {
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(message.text());
    }
  });
  return errors;
}

// End users (issue #23): the test-only key pair `rsa-a` (server/tests/fixtures/jwt/README.md).
const JWT_FIXTURES = new URL('../../server/tests/fixtures/jwt/', import.meta.url);
export const PUBLIC_PEM = readFileSync(new URL('rsa-a.pub.pem', JWT_FIXTURES), 'utf8');

/** A token from `issuer` for gateway `gateway` with `claims`, signed RS256 with `rsa-a`'s private half. */
export function endUserToken(issuer, gateway, claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: issuer, aud: gateway, iat: now, exp: now + 600, ...claims };
  const signed = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(payload)}`;
  const key = readFileSync(new URL('rsa-a.pem', JWT_FIXTURES), 'utf8');
  return `${signed}.${createSign('RSA-SHA256').update(signed).sign(key, 'base64url')}`;
}

/** The status of a chat request to `gateway` with an end user's token alone. */
export async function endUserChatStatus(page, gateway, token) {
  const response = await page.request.post(`/g/${gateway}/v1/chat/completions`, {
    headers: { authorization: `Bearer ${token}` },
    data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] },
  });
  return response.status();
}

/**
 * Opens the gateway card's form that adds an identity provider and fills in `issuer`, the
 * gateway's name as the audience and a PEM key source; the key itself is left to the test.
 */
export async function openPemProviderForm(page, endUsers, gateway, issuer) {
  await endUsers.getByRole('button', { name: 'Add an identity provider' }).click();
  const add = page.getByRole('form', { name: `Add an identity provider to ${gateway}` });
  await add.getByLabel('Issuer', { exact: true }).fill(issuer);
  await add.getByLabel('Audiences', { exact: true }).fill(gateway);
  await add.getByLabel('Keys', { exact: true }).selectOption('pem');
  return add;
}

/** The alert under the form field labelled `label`. */
export const alertUnder = (form, label) => form.getByLabel(label, { exact: true }).locator('xpath=..').getByRole('alert');
