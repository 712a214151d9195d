// Sessions and roles in a real browser (issue 19): an ended session takes any page or form to
// sign-in and back; Back after signing out shows no data; a viewer sees a read-only console,
// and a write it tries anyway is a 403; an endpoint's health says what there is evidence for.
import { test, expect } from '@playwright/test';
import { EMAIL, PASSWORD, SHOTS, addEndpoint, deleteEndpoint, hydrated, signIn, watchErrors } from './helpers.mjs';

const VIEWER = 'read-only@example.com';
const VIEWER_PASSWORD = 'read only password 123';

/** Ends the page's session on the server (as the idle timeout would) but keeps its cookie. */
async function endSessionKeepingCookie(context, page) {
  const cookies = await context.cookies();
  expect((await page.request.post('/logout')).status()).toBeLessThan(400);
  await context.addCookies(cookies);
}

test('an ended session takes a page and a form to sign-in, which comes back to where it was', async ({ page, context }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await page.goto('/keys');
  await hydrated(page);
  await endSessionKeepingCookie(context, page);

  // Client-side navigation loads the next page's data with a server function: a 401.
  await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Endpoints' }).click();
  await expect(page).toHaveURL(/\/login\?next=%2Fendpoints$/);
  await expect(page.getByText('error deserializing')).toHaveCount(0);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/endpoints$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Endpoints' })).toBeVisible();

  // A form sent after the session ended.
  await hydrated(page);
  await endSessionKeepingCookie(context, page);
  await page.getByLabel('Name').fill('never-made');
  await page.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
  await page.getByLabel('Model').fill('m');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page).toHaveURL(/\/login\?next=%2Fendpoints$/);
  await page.screenshot({ path: `${SHOTS}/session-ended.png`, fullPage: true });
  expect(errors.filter((e) => !e.includes('401')), 'no errors in the browser console').toEqual([]);
});

test('Back after signing out does not show the page or its data', async ({ page }) => {
  await signIn(page);
  const keys = await page.goto('/keys');
  expect(keys.headers()['cache-control']).toBe('no-store');
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Keys' })).toBeVisible();
  await page.getByLabel('Account menu').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await page.goBack();
  await expect(page).toHaveURL(/\/login\?next=\/keys$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Keys' })).toHaveCount(0);
});

test('a viewer sees a read-only console, and a write tried anyway is a 403', async ({ page, browser }) => {
  await signIn(page);
  await addEndpoint(page, 'viewer-sees-this');
  const made = await page.request.post('/graphql', {
    data: {
      query: 'mutation($input: CreateAdminUserInput!) { createAdminUser(input: $input) { id email role } }',
      variables: { input: { email: VIEWER, password: VIEWER_PASSWORD, role: 'VIEWER' } },
    },
  });
  const created = (await made.json()).data.createAdminUser;
  expect(created).toMatchObject({ email: VIEWER, role: 'VIEWER' });

  const context = await browser.newContext();
  const viewer = await context.newPage();
  const errors = watchErrors(viewer);
  await viewer.goto('/login');
  await viewer.getByLabel('Email').fill(VIEWER);
  await viewer.getByLabel('Password').fill(VIEWER_PASSWORD);
  await viewer.getByRole('button', { name: 'Sign in' }).click();
  await expect(viewer).toHaveURL(/\/$/);

  const writes = /^(Add endpoint|Add gateway|Create key|Edit|Delete|Test connection|Rotate|Revoke|Reset usage)$/;
  for (const path of ['/endpoints', '/gateways', '/keys']) {
    await viewer.goto(path);
    await hydrated(viewer);
    await expect(viewer.getByTestId('read-only')).toBeVisible();
    await expect(viewer.getByRole('button', { name: writes })).toHaveCount(0);
  }
  await viewer.goto('/endpoints');
  await expect(viewer.getByTestId('endpoint-viewer-sees-this')).toBeVisible();
  await viewer.screenshot({ path: `${SHOTS}/viewer-endpoints.png`, fullPage: true });

  // The server function behind "Delete", called by hand: refused as a 403 under the console's
  // error, and the endpoint is still there.
  const refused = await viewer.request.post('/api/endpoints_delete', { form: { id: '1' } });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).kind).toBe('Forbidden');
  await viewer.reload();
  await expect(viewer.getByTestId('endpoint-viewer-sees-this')).toBeVisible();
  expect(errors).toEqual([]);
  await context.close();
  await deleteEndpoint(page, 'viewer-sees-this');
  const deleted = await page.request.post('/graphql', {
    data: { query: 'mutation($id: ID!) { deleteAdminUser(id: $id) }', variables: { id: created.id } },
  });
  expect((await deleted.json()).errors).toBeUndefined();
});

test('an endpoint is "not tested yet" until a test, and "failing" after a failed one', async ({ page }) => {
  await signIn(page);
  await page.goto('/endpoints');
  await hydrated(page);
  await page.getByLabel('Name').fill('closed-port');
  await page.getByLabel('Model').fill('gpt-4o-mini');
  await page.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
  await page.getByLabel('API key').fill('sk-e2e-closed');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const row = page.getByTestId('endpoint-closed-port');
  await expect(row.getByTestId('health')).toHaveText('Not tested yet');
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('probe')).toContainText('Failed');
  await expect(row.getByTestId('health')).toHaveText('Failing');
  await page.reload();
  await expect(page.getByTestId('endpoint-closed-port').getByTestId('health')).toHaveText('Failing');
  await deleteEndpoint(page, 'closed-port');
});
