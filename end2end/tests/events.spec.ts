// The events page, the members' sources and the admin's Discord settings show what the
// database has.
import { expect, test } from '@playwright/test';
import { query, signIn } from './support';

test('the events page shows interested, attended, no-shows and walk-ins as gold.event_attendance has them', async ({ page }) => {
  const past = await query<{
    id: string; interested: number; attended: number; both: number; no_shows: number; walk_ins: number;
  }>(
    `select scheduled_event_id::text as id, interested, attended, interested_attended as both,
            no_shows, walk_ins
       from gold.event_attendance where status in ('completed', 'canceled')
      order by starts_at desc, scheduled_event_id desc limit 50`,
  );
  const upcoming = await query<{ id: string; interested: number }>(
    `select scheduled_event_id::text as id, interested from gold.event_attendance
      where status in ('scheduled', 'active') order by starts_at`,
  );
  expect(past.length, 'the demo has past events').toBeGreaterThan(0);
  expect(past.some((e) => e.attended > 0), 'someone came to a demo event').toBe(true);
  expect(upcoming.length, 'the demo has an upcoming event').toBeGreaterThan(0);
  await signIn(page, 'leader', '/events');
  const pastTable = page.getByTestId('past-events');
  await expect(pastTable.locator('tbody tr[data-event]')).toHaveCount(past.length);
  for (const e of past) {
    const row = pastTable.locator(`tr[data-event="${e.id}"]`);
    await expect(row.locator('td[data-interested]')).toHaveAttribute('data-interested', String(e.interested));
    await expect(row.locator('td[data-attended]')).toHaveAttribute('data-attended', String(e.attended));
    await expect(row.locator('td[data-both]')).toHaveAttribute('data-both', String(e.both));
    await expect(row.locator('td[data-no-shows]')).toHaveAttribute('data-no-shows', String(e.no_shows));
    await expect(row.locator('td[data-walk-ins]')).toHaveAttribute('data-walk-ins', String(e.walk_ins));
  }
  const upcomingTable = page.getByTestId('upcoming-events');
  for (const e of upcoming) {
    await expect(upcomingTable.locator(`tr[data-event="${e.id}"] td[data-interested]`))
      .toHaveAttribute('data-interested', String(e.interested));
  }
  // The CSV holds every event.
  const csv = await page.request.get('/export/event_attendance.csv');
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split('\n');
  const [{ n }] = await query<{ n: number }>('select count(*)::int as n from gold.event_attendance');
  expect(lines.length).toBe(n + 1);
});

test('a member is refused the events page', async ({ page }) => {
  await signIn(page, 'member');
  const response = await page.goto('/events');
  expect(response?.status()).toBe(403);
});

test('the members page shows each invite with its label and joins as gold.member_sources has them', async ({ page }) => {
  const sources = await query<{ code: string; joined: number; still: number }>(
    `select invite_code as code, sum(joined)::int as joined, sum(still_members)::int as still
       from gold.member_sources
      where join_month >= date_trunc('month', (now() at time zone 'Europe/Berlin')::date) - interval '11 months'
      group by source, invite_code`,
  );
  expect(sources.some((s) => s.code === 'twitch'), 'the demo has joins through the Twitch invite').toBe(true);
  await signIn(page, 'leader', '/members');
  const table = page.getByTestId('sources-table');
  for (const s of sources) {
    const row = table.locator(`tr[data-code="${s.code}"]`);
    await expect(row.locator('td[data-joined]')).toHaveAttribute('data-joined', String(s.joined));
    await expect(row.locator('td[data-still]')).toHaveAttribute('data-still', String(s.still));
  }
  await expect(table.locator('tr[data-code="twitch"] th')).toHaveText('Twitch stream (twitch)');
});

test('an admin maps a Discord role and labels an invite, and both are stored', async ({ page }) => {
  await signIn(page, 'admin', '/admin/discord');
  const settings = page.getByTestId('discord-settings');
  const officer = settings.locator('tr[data-role-id="930000000000000002"]');
  await officer.locator('select[name="app_role"]').selectOption('leader');
  await officer.getByRole('button').click();
  await expect(settings.locator('tr[data-role-id="930000000000000002"][data-mapped="leader"]')).toBeAttached();
  const invite = settings.locator('tr[data-invite="partner"]');
  await invite.locator('input[name="label"]').fill('Partner server');
  await invite.getByRole('button').click();
  await expect(settings.locator('tr[data-invite="partner"] input[name="label"]')).toHaveValue('Partner server');
  const [mapping] = await query<{ app_role: string }>(
    "select app_role from app.discord_role_mappings where role_id = 930000000000000002",
  );
  expect(mapping.app_role).toBe('leader');
  const [label] = await query<{ label: string }>("select label from app.invite_labels where code = 'partner'");
  expect(label.label).toBe('Partner server');
  // Undo, so the other tests see the demo as it was.
  await officer.locator('select[name="app_role"]').selectOption('none');
  await settings.locator('tr[data-role-id="930000000000000002"]').getByRole('button').click();
  await expect(settings.locator('tr[data-role-id="930000000000000002"][data-mapped="none"]')).toBeAttached();
});
