// The servers page shows each demo game server with its weekday × hour profile exactly as
// gold.server_weekly_profile has it; members are refused it.
import { expect, test } from '@playwright/test';
import { query, signIn } from './support';

interface ProfileRow {
  server_id: string;
  name: string;
  weekday: number;
  hour: number;
  avg: string;
  low_use: boolean;
}

test('a leader sees every game server with its utilization profile as the database has it', async ({ page }) => {
  const servers = await query<{ server_id: string; name: string }>(
    `select server_id::text as server_id, name from app.game_servers order by name`,
  );
  expect(servers.map((s) => s.name)).toEqual(['Demo CS2', 'Demo Minecraft']);
  const profile = await query<ProfileRow>(
    `select p.server_id::text as server_id, s.name, p.weekday, p.hour,
            to_char(p.avg_humans, 'FM9999990.000') as avg, p.low_use
       from gold.server_weekly_profile p join app.game_servers s using (server_id)`,
  );
  expect(profile.length, 'the demo has a full week for both servers').toBe(2 * 7 * 24);

  await signIn(page, 'leader', '/servers');
  const cards = page.getByTestId('server-card');
  await expect(cards).toHaveCount(2);
  for (const server of servers) {
    const card = page.locator(`[data-testid="server-card"][data-server="${server.server_id}"]`);
    await expect(card.locator('h2')).toHaveText(server.name);
    const rows = profile.filter((row) => row.server_id === server.server_id);
    const heatmap = card.getByTestId('server-profile');
    await expect(heatmap.locator('td.heat')).toHaveCount(7 * 24);
    for (const row of rows) {
      const cell = heatmap.locator(`td[data-weekday="${row.weekday}"][data-hour="${row.hour}"]`);
      await expect(cell).toHaveAttribute('data-avg', row.avg);
      if (row.low_use) await expect(cell).toHaveClass(/low/);
      else await expect(cell).not.toHaveClass(/low/);
    }
    const lowHours = rows.filter((row) => row.low_use).length;
    await expect(card.getByTestId('low-use-summary')).toHaveAttribute('data-low-hours', String(lowHours));
  }
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Servers' })).toBeVisible();
});

test('a member is refused the servers page', async ({ page }) => {
  await signIn(page, 'member');
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Servers' })).toHaveCount(0);
  const response = await page.goto('/servers');
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId('server-card')).toHaveCount(0);
});
