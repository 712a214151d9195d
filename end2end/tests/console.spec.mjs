// The console in a real browser: sign in as the bootstrapped admin, see the dashboard, move
// between sections by client-side navigation (which only works once the page has hydrated),
// sign out; and a wrong password shows an error. Screenshots go to end2end/artifacts/.
import { test, expect } from '@playwright/test';

const EMAIL = process.env.E2E_EMAIL ?? 'e2e@example.com';
const PASSWORD = process.env.E2E_PASSWORD ?? 'e2e password 123';
const SHOTS = 'artifacts';

async function signIn(page, password = PASSWORD) {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a wrong password shows an error and keeps the e-mail', async ({ page }) => {
  await signIn(page, 'not the password');
  await expect(page.getByRole('alert')).toHaveText('Incorrect email or password.');
  await expect(page.getByLabel('Email')).toHaveValue(EMAIL);
  await expect(page).toHaveURL(/\/login$/);
  await page.screenshot({ path: `${SHOTS}/login-error.png`, fullPage: true });
});

test('sign in, navigate the console client-side, sign out', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const documents = [];
  page.on('request', (r) => { if (r.resourceType() === 'document') documents.push(r.url()); });

  await page.goto('/login');
  await page.screenshot({ path: `${SHOTS}/login.png`, fullPage: true });
  await signIn(page);

  // The dashboard, with figures loaded from the server.
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('stat-admins')).toHaveText('1');
  await expect(page.getByTestId('user-email')).toHaveText(EMAIL);

  // Wait for hydration: an effect (browser-only) marks the body once the WASM has run.
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15_000 });
  await page.screenshot({ path: `${SHOTS}/dashboard.png`, fullPage: true });

  // Client-side navigation: the URL and page change, but no new document is requested.
  const before = documents.length;
  const nav = page.getByRole('navigation', { name: 'Main', exact: true });
  for (const [label, path] of [['Endpoints', '/endpoints'], ['Gateways', '/gateways'], ['Keys', '/keys'],
    ['Logs', '/logs'], ['Playground', '/playground'], ['Settings', '/settings'], ['Dashboard', '/']]) {
    await nav.getByRole('link', { name: label }).click();
    await expect(page).toHaveURL(new RegExp(`${path === '/' ? '/' : path}$`));
    await expect(page.getByRole('heading', { level: 1, name: label })).toBeVisible();
    await expect(nav.getByRole('link', { name: label })).toHaveAttribute('aria-current', 'page');
    if (label === 'Keys') await page.screenshot({ path: `${SHOTS}/keys.png`, fullPage: true });
  }
  expect(documents.length, 'navigation happened in the browser, not by reloading').toBe(before);
  await expect(page.getByTestId('stat-admins')).toHaveText('1');

  // Sign out through the user menu.
  await page.getByLabel('Account menu').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await expect(page.getByRole('status')).toHaveText('You have been signed out.');
  // The console is closed again.
  await page.goto('/keys');
  await expect(page).toHaveURL(/\/login\?next=\/keys$/);

  expect(errors, 'no errors in the browser console').toEqual([]);
});

test('the console fits a phone screen', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'no horizontal scrolling').toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${SHOTS}/dashboard-phone.png`, fullPage: true });
  await page.getByLabel('Open navigation').click();
  const mobileNav = page.getByRole('navigation', { name: 'Main (mobile)' });
  await mobileNav.getByRole('link', { name: 'Gateways' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Gateways' })).toBeVisible();
  await expect(mobileNav, 'the menu closes after navigating').toBeHidden();
  await page.screenshot({ path: `${SHOTS}/gateways-phone.png`, fullPage: true });
});

test('a keyboard user can skip the navigation to the page itself', async ({ page }) => {
  await signIn(page);
  await page.goto('/keys');
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15_000 });
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();
  await page.keyboard.press('Enter');
  await expect(page.locator('main#main')).toBeFocused();
});
