// Limits for people in a real browser (issue #23), the path an admin takes: a gateway that takes
// end users' tokens (an identity provider with a PEM key) is given a per-user limit, a group
// rule that does not parse is refused under its field, then a group rule with per-group limits
// and a cap per prompt (clamped) are saved, read back on the card and in the form; end users of
// two departments send requests with signed tokens and one of them is refused at their third;
// the Dashboard's top tables list both users and both groups with their requests, for the
// gateway and for every gateway, and not for an endpoint. Screenshots at 1280 and 390 px go to
// artifacts/.
import { test, expect } from '@playwright/test';
import { PUBLIC_PEM, SHOTS, addEndpoint, addGateway, alertUnder, deleteEndpoint, deleteGateway, endUserChatStatus, endUserToken, hydrated, openPemProviderForm, phoneShot, signIn, watchErrors } from './helpers.mjs';

const ISSUER = 'https://id.people.e2e.example.com';
const GATEWAY = 'people-gw';
const ENDPOINT = 'people-a';
// Names no other spec uses: the every-gateway tables count every gateway's people.
const ADA = { sub: 'people-ada', department: 'people-research' };
const BOB = { sub: 'people-bob', department: 'people-sales' };

/** The status of a chat request to the gateway by an end user with `claims`. */
const chatStatus = (page, claims) => endUserChatStatus(page, GATEWAY, endUserToken(ISSUER, GATEWAY, claims));

/** A top table's row for `name`: its cells are requests, errors, p50, p95, tokens, cost, …. */
const personRow = (table, name) => table.getByRole('row').filter({ has: table.page().getByRole('rowheader', { name, exact: true }) });

test('limits for people are set on a gateway, hold for its end users, and the Dashboard lists its busiest users and groups', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, ENDPOINT, 'sk-e2e-people-a');
  await addGateway(page, GATEWAY, ENDPOINT);
  // No end user has come in yet: the gateway's Dashboard says so.
  await page.goto(`/?scope=gateway:${GATEWAY}`);
  await expect(page.getByTestId('top-users-empty')).toContainText("No end user's requests in this range");
  await expect(page.getByTestId('top-groups-empty')).toContainText("No group's requests in this range");
  await page.goto('/gateways');
  await hydrated(page);
  const card = page.getByTestId(`gateway-${GATEWAY}`);
  const limits = card.getByRole('region', { name: `Limits of ${GATEWAY}` });
  await expect(limits.getByTestId('limits-user')).toHaveText('None');
  await expect(limits.getByTestId('limits-group')).toHaveText('No groups');

  // The provider whose tokens the gateway takes.
  const endUsers = card.getByRole('region', { name: `End users of ${GATEWAY}` });
  const add = await openPemProviderForm(page, endUsers, GATEWAY, ISSUER);
  await add.getByLabel('Public key (PEM)').fill(PUBLIC_PEM);
  await add.getByRole('button', { name: 'Save' }).click();
  await expect(endUsers.getByTestId('identity-provider')).toHaveCount(1);

  // Two prompts a minute for each user; a group rule that does not parse is refused under it,
  // with where, and nothing is saved.
  await card.getByRole('button', { name: 'Edit', exact: true }).click();
  const edit = page.getByRole('form', { name: `Edit ${GATEWAY}` });
  await edit.getByLabel('Ways in').selectOption('jwt');
  await edit.getByLabel('Per-user limits').fill('prompts/minute=2');
  await edit.getByLabel('Group rule').fill('user.department ==');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(alertUnder(edit, 'Group rule')).toContainText('Line 1, column');
  await expect(alertUnder(edit, 'Per-user limits')).toBeEmpty();

  // Groups by department, a hundred prompts an hour each; at most 300 tokens a prompt, clamped.
  await edit.getByLabel('Group rule').fill('user.department');
  await edit.getByLabel('Per-group limits').fill('prompts/hour=100');
  await edit.getByLabel('Max tokens per prompt').fill('300');
  await edit.getByLabel('Over the cap').selectOption('clamp');
  await page.screenshot({ path: `${SHOTS}/people-form-1280.png`, fullPage: true });
  await phoneShot(page, 'people-form');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('form', { name: `Edit ${GATEWAY}` })).toHaveCount(0);

  // Read back on the card (prompts are requests) and in the form.
  await expect(limits.getByTestId('limits-user')).toHaveText('requests/minute=2');
  await expect(limits.getByTestId('limits-group')).toHaveText('By user.department: requests/hour=100');
  await expect(limits.getByTestId('limits-prompt')).toHaveText('300 tokens; over it, max_tokens lowered');
  await page.reload();
  await hydrated(page);
  await expect(limits.getByTestId('limits-user')).toHaveText('requests/minute=2');
  await card.getByRole('button', { name: 'Edit', exact: true }).click();
  await expect(edit.getByLabel('Per-user limits')).toHaveValue('requests/minute=2');
  await expect(edit.getByLabel('Group rule')).toHaveValue('user.department');
  await expect(edit.getByLabel('Per-group limits')).toHaveValue('requests/hour=100');
  await expect(edit.getByLabel('Max tokens per prompt')).toHaveValue('300');
  await expect(edit.getByLabel('Over the cap')).toHaveValue('clamp');
  await expect(edit.getByLabel('Ways in')).toHaveValue('jwt');
  await edit.getByRole('button', { name: 'Cancel' }).click();

  // Bob of sales gets in once the change has reached the proxy (until then his token is not a
  // way in, and refused before any user is counted); Ada of research has two prompts a minute.
  await expect(async () => {
    expect(await chatStatus(page, BOB)).toBe(200);
  }).toPass({ timeout: 10_000 });
  // Limits count in calendar minutes: not across a minute's end, where the count starts again.
  const second = new Date().getSeconds();
  if (second > 50) await page.waitForTimeout((61 - second) * 1000);
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push(await chatStatus(page, ADA));
  expect(statuses).toEqual([200, 200, 429]);

  // The gateway's Dashboard: both users and both groups, busiest first. The request log is
  // written in batches: reload until it has them.
  const usersTable = page.getByTestId('top-users');
  const groupsTable = page.getByTestId('top-groups');
  await expect(async () => {
    await page.goto(`/?scope=gateway:${GATEWAY}`);
    await expect(personRow(usersTable, BOB.sub)).toHaveCount(1, { timeout: 1_000 });
    await expect(personRow(usersTable, ADA.sub).getByRole('cell').first()).toHaveText('3', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(usersTable.getByRole('rowheader')).toHaveText([ADA.sub, BOB.sub]);
  // Ada's third was refused: a request and an error.
  await expect(personRow(usersTable, ADA.sub).getByRole('cell').nth(1)).toHaveText('1');
  await expect(personRow(usersTable, BOB.sub).getByRole('cell').first()).toHaveText('1');
  await expect(groupsTable.getByRole('rowheader')).toHaveText([ADA.department, BOB.department]);
  await expect(personRow(groupsTable, ADA.department).getByRole('cell').first()).toHaveText('3');
  await expect(personRow(groupsTable, BOB.department).getByRole('cell').first()).toHaveText('1');
  await hydrated(page);
  await page.screenshot({ path: `${SHOTS}/people-dashboard-1280.png`, fullPage: true });
  await phoneShot(page, 'people-dashboard');

  // Every gateway's Dashboard lists them too; an endpoint's has no people tables.
  await page.goto('/');
  await expect(personRow(page.getByTestId('top-users'), ADA.sub).getByRole('cell').first()).toHaveText('3');
  await expect(personRow(page.getByTestId('top-groups'), BOB.department)).toHaveCount(1);
  await page.goto(`/?scope=endpoint:${ENDPOINT}`);
  await expect(page.getByTestId('total-requests')).toBeVisible();
  await expect(page.getByRole('region', { name: 'Top end users' })).toHaveCount(0);

  await deleteGateway(page, GATEWAY);
  await deleteEndpoint(page, ENDPOINT);
  expect(errors).toEqual([]);
});
