// End users in a real browser (issue #23), the path an admin takes on a gateway's card: an
// identity provider added with a PEM public key (a private key refused under its field first)
// and listed; the gateway's ways in set to both and an access rule saved (a syntax error refused
// under the rule first); the rule tried against claims that pass and claims that fail; a token
// signed for the provider let through the gateway while the rule allows it and refused when it
// does not; the provider removed. Screenshots at 1280 and 390 px go to artifacts/.
import { test, expect } from '@playwright/test';
import { PUBLIC_PEM, SHOTS, addEndpoint, addGateway, alertUnder, deleteEndpoint, deleteGateway, endUserChatStatus, endUserToken, openPemProviderForm, phoneShot, signIn, watchErrors } from './helpers.mjs';

const ISSUER = 'https://id.e2e.example.com';
const GATEWAY = 'idp-gw';
const RULE = "'llm' in user.groups && request.model == 'gpt-4o-mini'";

/** The status of a chat request to the gateway by an end user with `claims`. */
const chatStatus = (page, claims) => endUserChatStatus(page, GATEWAY, endUserToken(ISSUER, GATEWAY, claims));

test('an identity provider is added with a PEM key, the gateway takes tokens under an access rule tried against claims, and the provider is removed', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page);
  await addEndpoint(page, 'idp-a', 'sk-e2e-idp-a');
  await addGateway(page, GATEWAY, 'idp-a');
  const card = page.getByTestId(`gateway-${GATEWAY}`);
  const endUsers = card.getByRole('region', { name: `End users of ${GATEWAY}` });
  await expect(endUsers).toContainText('No identity providers');
  await expect(endUsers.getByTestId('ways-in')).toHaveText('Gateway keys only');

  // A private key is refused under the key; the public half is taken.
  const add = await openPemProviderForm(page, endUsers, GATEWAY, ISSUER);
  await add.getByLabel('Public key (PEM)').fill('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----');
  await add.getByRole('button', { name: 'Save' }).click();
  await expect(alertUnder(add, 'Public key (PEM)')).toContainText('private key');
  await add.getByLabel('Public key (PEM)').fill(PUBLIC_PEM);
  await add.getByLabel('RS256', { exact: true }).check();
  await add.getByLabel('Required claims', { exact: true }).fill('groups');
  await add.getByRole('button', { name: 'Save' }).click();
  const provider = endUsers.getByTestId('identity-provider');
  await expect(provider).toHaveCount(1);
  await expect(provider).toContainText(ISSUER);
  for (const shown of [GATEWAY, 'RS256', 'A PEM public key', '60 s', 'groups']) {
    await expect(provider).toContainText(shown);
  }

  // Ways in: both; an access rule that does not parse is refused under the rule, with where.
  await card.getByRole('button', { name: 'Edit', exact: true }).click();
  const edit = page.getByRole('form', { name: `Edit ${GATEWAY}` });
  await edit.getByLabel('Ways in').selectOption('both');
  await edit.getByLabel('Access rule').fill("'llm' in user.groups &&");
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(alertUnder(edit, 'Access rule')).toContainText('Line 1, column');

  // The rule tried as typed: claims that pass, claims that fail, claims that are not JSON.
  await edit.getByLabel('Access rule').fill(RULE);
  const tester = edit.getByRole('group', { name: 'Test this rule against these claims' });
  await tester.getByLabel('Claims (JSON)').fill('{"sub": "ada", "groups": ["llm"]}');
  await tester.getByLabel('Model asked for').fill('gpt-4o-mini');
  await tester.getByRole('button', { name: 'Test' }).click();
  await expect(tester.getByTestId('rule-verdict')).toHaveText('Allowed');
  await tester.getByLabel('Claims (JSON)').fill('{"sub": "bob", "groups": ["staff"]}');
  await tester.getByRole('button', { name: 'Test' }).click();
  await expect(tester.getByTestId('rule-verdict')).toHaveText('Denied');
  await tester.getByLabel('Claims (JSON)').fill('sub=bob');
  await tester.getByRole('button', { name: 'Test' }).click();
  await expect(alertUnder(tester, 'Claims (JSON)')).toContainText('JSON object');
  await page.screenshot({ path: `${SHOTS}/identity-1280.png`, fullPage: true });
  await phoneShot(page, 'identity');

  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('form', { name: `Edit ${GATEWAY}` })).toHaveCount(0);
  await expect(endUsers.getByTestId('ways-in')).toHaveText("Gateway keys or end users' tokens");
  await expect(endUsers.getByTestId('access-rule')).toHaveText(RULE);

  // A token the provider signed gets through while the rule allows it, and not otherwise.
  await expect(async () => {
    expect(await chatStatus(page, { sub: 'ada', groups: ['llm'] })).toBe(200);
  }).toPass({ timeout: 10_000 });
  expect(await chatStatus(page, { sub: 'bob', groups: ['staff'] })).toBe(403);

  // Removed, with confirmation: its tokens are refused.
  await provider.getByRole('button', { name: 'Remove' }).click();
  await provider.getByRole('button', { name: 'Confirm remove' }).click();
  await expect(endUsers.getByTestId('identity-provider')).toHaveCount(0);
  await expect(endUsers).toContainText('No identity providers');
  await expect(async () => {
    expect(await chatStatus(page, { sub: 'ada', groups: ['llm'] })).toBe(401);
  }).toPass({ timeout: 10_000 });

  await deleteGateway(page, GATEWAY);
  await deleteEndpoint(page, 'idp-a');
  expect(errors).toEqual([]);
});
