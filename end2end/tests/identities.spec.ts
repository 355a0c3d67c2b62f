// The admin identity editor: an admin finds an unlinked game account by its player name,
// merges its person into a member's and sees the audit entry; a member never reaches it
// (server/tests/auth.rs proves every editor function refuses members).
import { expect, test } from '@playwright/test';
import { query, signIn, waitForHydration } from './support';

test('an admin merges an unlinked game account into a member and sees the audit entry', async ({ page }) => {
  // A demo player whose Steam account stayed unlinked (every fifth player), and their member.
  const [target] = await query<{ steam: string; gamer: string; member: string; name: string }>(
    `select i.external_id as steam, i.person_id::text as gamer, d.person_id::text as member,
            (select s.player_name from silver.fact_game_sessions s
              where s.account_kind = 'steam' and s.account_id = i.external_id limit 1) as name
       from silver.user_identities i
       join silver.user_identities d
         on d.kind = 'discord'
        and d.external_id = (800000000000000000 + (i.external_id::bigint - 76561198000000000))::text
      where i.kind = 'steam' and i.verified_by = 'observed'
      order by i.external_id limit 1`,
  );
  expect(target, 'the demo leaves some Steam accounts unlinked').toBeTruthy();

  await signIn(page, 'admin', '/admin/identities');
  const editor = page.getByTestId('identity-editor');
  await editor.getByTestId('identity-search').fill(target.name);
  const gamer = editor.locator(`[data-testid="person"][data-person="${target.gamer}"]`);
  await expect(gamer).toBeVisible();
  await expect(gamer.locator(`li[data-account="${target.steam}"]`)).toContainText('Steam');

  await editor.getByTestId('identity-search').fill(`${target.member}`);
  const member = editor.locator(`[data-testid="person"][data-person="${target.member}"]`);
  await expect(member).toBeVisible();
  await member.getByTestId('merge-from').fill(target.gamer);
  await member.getByTestId('merge').click();
  await expect(member.locator(`li[data-account="${target.steam}"]`)).toBeVisible();

  const [moved] = await query<{ person: string }>(
    `select person_id::text as person from silver.user_identities where kind = 'steam' and external_id = $1`,
    [target.steam],
  );
  expect(moved.person).toBe(target.member);
  await page.goto('/admin/audit');
  await waitForHydration(page);
  const entry = page.getByTestId('audit-table').locator('tr[data-action="identity.merge"]').first();
  await expect(entry).toContainText(`person ${target.gamer} into person ${target.member}`);
  await expect(entry).toContainText('Persons merged');
});

test('a member cannot reach the identity editor', async ({ page }) => {
  await signIn(page, 'member');
  const response = await page.goto('/admin/identities');
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId('identity-editor')).toHaveCount(0);
});

test('an admin accepts a suggestion with its evidence and the account becomes the member\'s', async ({ page }) => {
  await signIn(page, 'admin', '/admin/identities');
  const review = page.getByTestId('identity-review');
  const first = review.getByTestId('suggestion').first();
  await expect(first, 'the demo leaves unlinked accounts with plausible owners').toBeVisible();
  await expect(first).toContainText('names alike');
  const account = await first.getAttribute('data-account');
  const candidate = await first.getAttribute('data-candidate');
  await first.getByTestId('accept-suggestion').click();
  await expect(review.locator(`[data-testid="suggestion"][data-account="${account}"]`)).toHaveCount(0);
  const [linked] = await query<{ person: string; how: string }>(
    `select person_id::text as person, verified_by as how from silver.user_identities where external_id = $1`,
    [account],
  );
  expect(linked).toEqual({ person: candidate, how: 'admin' });
});
