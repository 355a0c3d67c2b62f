// Who may see what: members get their own page and are refused the admin page by the server.
import { expect, test } from '@playwright/test';
import { query, signIn, waitForHydration } from './support';

test('a member is refused the admin page', async ({ page }) => {
  await signIn(page, 'member');
  // `/` is the member's own page, and there is no admin link.
  await expect(page.getByTestId('my-activity')).toBeVisible();
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Admin' })).toHaveCount(0);

  const response = await page.goto('/admin');
  expect(response?.status()).toBe(403);
  await expect(page.locator('body')).toContainText(/not allowed/i);
  await expect(page.getByTestId('admin')).toHaveCount(0);
});

test('a member sees their own voice time of the last 30 days, as the database has it', async ({ page }) => {
  await signIn(page, 'member');
  // The demo member is a regular of the demo community.
  const [expected] = await query<{ minutes: string }>(
    // Open sessions count until the bot last saw their guild, as on the overview.
    `select floor(coalesce(sum(greatest(extract(epoch from
                least(coalesce(s.ended_at, greatest(g.observed_until, s.started_at)), now())
                - greatest(s.started_at, now() - interval '30 days')), 0)), 0) / 60)::text
                as minutes
       from silver.fact_voice_sessions s
       join app.users u on u.discord_user_id = s.discord_user_id
       left join app.discord_guilds g on g.guild_id = s.guild_id
      where u.username = 'demo-member' and not s.is_afk
        and (s.ended_at is null or s.ended_at > now() - interval '30 days')`,
  );
  const minutes = Number(expected.minutes);
  expect(minutes).toBeGreaterThan(60);
  const note = await page.getByTestId('voice-hours').locator('.figure-note').textContent();
  const shown = Number((note ?? '').split(' ')[0].replace(/[.,]/g, ''));
  // A session crossing the window's start may gain or lose a minute between the two reads.
  expect(Math.abs(shown - minutes)).toBeLessThanOrEqual(1);
  await expect(page.getByTestId('active-days').locator('.figure-value')).not.toHaveText('0');
});

test('a leader is refused the admin page too', async ({ page }) => {
  await signIn(page, 'leader');
  const response = await page.goto('/admin');
  expect(response?.status()).toBe(403);
});

test('an admin marks AFK channels by name from now on or for all of history and takes the marks off', async ({ page }) => {
  await signIn(page, 'admin', '/admin/discord');
  const guild = page.getByTestId('guild-channels').first();
  await expect(guild).toBeVisible();
  // Discord's own AFK channel is named, not shown as an id.
  await expect(guild.getByTestId('afk-discord')).toHaveText('Voice › AFK');
  const form = guild.getByTestId('afk-form');
  await form.getByTestId('afk-pick').selectOption({ label: 'Voice › Lobby' });
  await form.getByRole('button', { name: 'Mark', exact: true }).click();
  const fromNow = guild.getByTestId('afk-marked').locator('li[data-marked="910000000000000001"]');
  await expect(fromNow).toContainText('Voice › Lobby');
  await expect(fromNow).toContainText('since');

  await form.getByTestId('afk-pick').selectOption({ label: 'Voice › Gaming 1' });
  await form.getByRole('checkbox').check();
  await form.getByRole('button', { name: 'Mark', exact: true }).click();
  const always = guild.getByTestId('afk-marked').locator('li[data-marked="910000000000000002"]');
  await expect(always).toContainText('always');
  // A marked channel is no longer offered.
  await expect(form.getByTestId('afk-pick').locator('option', { hasText: 'Lobby' })).toHaveCount(0);
  const marks = await query<{ channel_id: string; always: boolean }>(
    "select channel_id::text, valid_from = '-infinity' as always from app.afk_channels order by id",
  );
  expect(marks).toEqual([
    { channel_id: '910000000000000001', always: false },
    { channel_id: '910000000000000002', always: true },
  ]);

  await fromNow.getByRole('button', { name: 'Not from now on', exact: true }).click();
  await expect(fromNow).toHaveCount(0);
  await always.getByRole('button', { name: 'Never was', exact: true }).click();
  await expect(guild.getByTestId('afk-marked').locator('li[data-marked]')).toHaveCount(0);
  expect(await query("select 1 from app.afk_channels where valid_to is null")).toHaveLength(0);
  await page.goto('/admin/audit');
  await waitForHydration(page);
  const audit = page.getByTestId('audit-table');
  await expect(audit.locator('tbody tr[data-action="guild.afk_channel.mark"]')).toHaveCount(2);
  await expect(audit.locator('tbody tr[data-action="guild.afk_channel.unmark"]')).toHaveCount(2);
});

test('an admin excludes a channel picked by name and records it again', async ({ page }) => {
  await signIn(page, 'admin', '/admin/discord');
  const guild = page.getByTestId('guild-channels').first();
  const form = guild.getByTestId('exclude-form');
  await form.getByTestId('exclude-pick').selectOption({ label: 'Text › clips' });
  await form.getByRole('button', { name: 'Exclude', exact: true }).click();
  const excluded = guild.getByTestId('excluded').locator('li[data-excluded="910000000000000203"]');
  await expect(excluded).toContainText('Text › clips');
  expect(await query("select 1 from app.excluded_channels where channel_id = 910000000000000203")).toHaveLength(1);
  await excluded.getByRole('button', { name: 'Record again', exact: true }).click();
  await expect(excluded).toHaveCount(0);
  expect(await query("select 1 from app.excluded_channels")).toHaveLength(0);
});

test('an admin makes a member a leader, cannot remove the last admin, and sees both in the audit log', async ({ page }) => {
  await signIn(page, 'member');
  await signIn(page, 'admin', '/admin/people');
  const users = page.getByTestId('users-table');
  const member = users.locator('tbody tr', { hasText: 'Demo Member' });
  await member.getByRole('combobox').selectOption('leader');
  await member.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByTestId('role-saved')).toBeVisible();
  await expect(users.locator('tbody tr', { hasText: 'Demo Member' })).toHaveAttribute('data-role', 'leader');
  const rows = await query<{ role: string }>("select role from app.users where display_name = 'Demo Member'");
  expect(rows).toEqual([{ role: 'leader' }]);

  // The only admin cannot step down.
  const admin = users.locator('tbody tr', { hasText: 'Demo Admin' });
  await admin.getByRole('combobox').selectOption('member');
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByTestId('error')).toContainText('Not possible: there would be no admin left.');
  expect(await query("select 1 from app.users where display_name = 'Demo Admin' and role = 'admin'")).toHaveLength(1);

  await page.getByTestId('console-menu').getByRole('link', { name: 'Audit log' }).click();
  await expect(page).toHaveURL(/\/admin\/audit$/);
  const latest = page.getByTestId('audit-table').locator('tbody tr').first();
  await expect(latest).toContainText('Role changed');
  await expect(latest).toContainText('Demo Admin');
  await expect(latest).toContainText('Demo Member');
  await expect(latest).toContainText('"role": "leader"');
});

test('signing out returns to the sign-in page', async ({ page }) => {
  await signIn(page, 'leader');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByTestId('sign-in')).toBeVisible();
  await expect(page.getByTestId('user')).toHaveCount(0);
});

test('a Discord account that is not a member of the community is refused sign-in with a page saying why', async ({ page }) => {
  await page.goto('/auth/demo');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/auth/demo') && r.request().method() === 'POST'),
    page.locator('button[data-role="outsider"]').click(),
  ]);
  expect(response.status()).toBe(403);
  await expect(page.locator('body')).toContainText('is not a member');
  // Nobody is signed in afterwards.
  await page.goto('/');
  await expect(page.getByTestId('sign-in')).toBeVisible();
});
