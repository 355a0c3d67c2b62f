// A member links a game account with the in-game code: the page shows the code, the game
// server's log (posted the way CS2 posts it) says `!link CODE`, the account is listed as
// the member's, and the member unlinks it again.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { query, regenerateLogToken, runJob, signIn, waitForHydration } from './support';

// A Steam account nobody in the demo has: [U:1:424242] is SteamID64 76561197960689970.
const STEAM_ID = '76561197960689970';

test('a member links a Steam account by saying the code in game chat, sees it, and unlinks it', async ({ page, request }) => {
  await signIn(page, 'member', '/me');
  const accounts = page.getByTestId('my-accounts');
  await expect(accounts.locator('tr[data-kind="discord"]')).toHaveCount(1);
  await expect(accounts.locator(`tr[data-account="${STEAM_ID}"]`)).toHaveCount(0);

  await accounts.getByTestId('new-link-code').click();
  const shown = accounts.getByTestId('link-code-text');
  await expect(shown).toHaveText(/^!link [A-Z2-9]{8}$/);
  const code = ((await shown.textContent()) ?? '').replace('!link ', '');

  // The demo CS2 server pushes its logs over HTTP; its clock is the community's (Berlin).
  // Tokens are stored hashed: a new one is made (and shown once) for the test.
  const token = regenerateLogToken('Demo CS2');
  const [server] = await query<{ stamp: string }>(
    `select to_char(now() at time zone 'Europe/Berlin', 'MM/DD/YYYY - HH24:MI:SS.MS') as stamp`,
  );
  const body = `${server.stamp} - "Linker<7><[U:1:424242]><CT>" say "!link ${code.toLowerCase()}"\n`;
  const posted = await request.post(`/ingest/logs/${token}`, {
    data: body,
    headers: { 'content-type': 'text/plain' },
  });
  expect(posted.status()).toBe(200);
  // The ingest kept only the code's hash; the pipeline's link_codes job redeems it (in
  // `serve`, within a second: the stored line wakes the scheduler).
  runJob('link_codes');

  await page.reload();
  await waitForHydration(page);
  const row = accounts.locator(`tr[data-account="${STEAM_ID}"]`);
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('Steam');
  await expect(row).toContainText('Linker');
  await expect(row).toContainText('in-game code');
  const [identity] = await query<{ linked: boolean }>(
    `select i.person_id = d.person_id as linked
       from silver.user_identities i, silver.user_identities d, app.users u
      where i.kind = 'steam' and i.external_id = $1
        and u.username = 'demo-member' and d.kind = 'discord' and d.external_id = u.discord_user_id::text`,
    [STEAM_ID],
  );
  expect(identity.linked).toBe(true);

  await row.getByTestId('unlink').click();
  await expect(accounts.locator(`tr[data-account="${STEAM_ID}"]`)).toHaveCount(0);
  const audit = await query<{ action: string }>(
    `select action from app.audit_log where subject = $1 order by id`,
    [`steam ${STEAM_ID}`],
  );
  expect(audit.map((a) => a.action)).toEqual(['identity.link', 'identity.unlink']);
  // The Discord account one signs in with has no unlink button.
  await expect(accounts.locator('tr[data-kind="discord"]').getByTestId('unlink')).toHaveCount(0);
});

test('a member downloads their data as JSON, with their own accounts only', async ({ page }) => {
  await signIn(page, 'member', '/me');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-my-data').click()]);
  expect(download.suggestedFilename()).toBe('guildhall-my-data.json');
  const path = await download.path();
  const data = JSON.parse(readFileSync(path, 'utf8'));
  const [me] = await query<{ id: string }>(`select discord_user_id::text as id from app.users where username = 'demo-member'`);
  expect(data.user.discord_user_id).toBe(me.id);
  const own = await query<{ external_id: string }>(
    `select i.external_id from silver.user_identities i
       join silver.user_identities d on d.person_id = i.person_id
      where d.kind = 'discord' and d.external_id = $1 order by i.kind, i.external_id`,
    [me.id],
  );
  expect(data.accounts.map((a: { external_id: string }) => a.external_id)).toEqual(own.map((o) => o.external_id));
  expect(data.voice_sessions.length).toBeGreaterThan(0);
});
