// The members page and the overview's trailing figures show what the database has.
import { expect, test } from '@playwright/test';
import { query, signIn } from './support';

test('the overview shows WAU and MAU of the range end as gold.daily_active_users has them', async ({ page }) => {
  // A range ending on a day with data: the latest day of the demo.
  const [{ day, wau, mau }] = await query<{ day: string; wau: number; mau: number }>(
    'select day::text as day, wau, mau from gold.daily_active_users where dau_total > 0 order by day desc limit 1',
  );
  await signIn(page, 'leader', `/?from=${day}&to=${day}`);
  await expect(page.getByTestId('wau').locator('.figure-value')).toHaveText(String(wau));
  await expect(page.getByTestId('mau').locator('.figure-value')).toHaveText(String(mau));
  const row = page.locator(`[data-testid="dau-table"] tr[data-day="${day}"]`);
  await expect(row.locator('td[data-wau]')).toHaveAttribute('data-wau', String(wau));
  await expect(row.locator('td[data-mau]')).toHaveAttribute('data-mau', String(mau));
});

test('the members page counts joins and leaves per week as silver.dim_members has them', async ({ page }) => {
  const weeks = await query<{ week: string; joins: number; leaves: number }>(
    `with weeks as (
       select w::date as week
       from generate_series(date_trunc('week', (now() at time zone 'Europe/Berlin')::date) - interval '25 weeks',
                            date_trunc('week', (now() at time zone 'Europe/Berlin')::date), interval '1 week') w)
     select w.week::text as week,
            (select count(*)::int from silver.dim_members m
              where (m.first_joined_at at time zone 'Europe/Berlin')::date >= w.week
                and (m.first_joined_at at time zone 'Europe/Berlin')::date < w.week + 7) as joins,
            (select count(*)::int from silver.dim_members m
              where not m.is_member and (m.left_at at time zone 'Europe/Berlin')::date >= w.week
                and (m.left_at at time zone 'Europe/Berlin')::date < w.week + 7) as leaves
     from weeks w order by w.week`,
  );
  expect(weeks.some((w) => w.joins > 0), 'the demo has joins').toBe(true);
  await signIn(page, 'leader', '/members');
  const table = page.getByTestId('growth-table');
  await expect(table.locator('tbody tr[data-week]')).toHaveCount(26);
  for (const w of weeks) {
    const row = table.locator(`tr[data-week="${w.week}"]`);
    await expect(row.locator('td[data-joins]')).toHaveAttribute('data-joins', String(w.joins));
    await expect(row.locator('td[data-leaves]')).toHaveAttribute('data-leaves', String(w.leaves));
  }
  const total = weeks.reduce((sum, w) => sum + w.joins, 0);
  await expect(page.getByTestId('joins').locator('.figure-value')).toHaveText(String(total));
});

test('a member is refused the members page', async ({ page }) => {
  await signIn(page, 'member');
  const response = await page.goto('/members');
  expect(response?.status()).toBe(403);
});

test('the funnel shows every join month with each step no larger than the one before', async ({ page }) => {
  const [expected] = await query<{ months: string; joined: string }>(
    `select count(distinct date_trunc('month', j.joined_at at time zone 'Europe/Berlin'))::text as months,
            count(*)::text as joined
       from (select discord_user_id, min(first_joined_at) as joined_at from silver.dim_members
              where first_joined_at is not null group by 1) j`,
  );
  await signIn(page, 'leader', '/members');
  const rows = page.getByTestId('funnel-table').locator('tbody tr');
  await expect(rows).toHaveCount(Number(expected.months));
  let joined = 0;
  let linked = 0;
  for (const row of await rows.all()) {
    const [j, l, p, r] = await Promise.all(
      ['data-joined', 'data-linked', 'data-played', 'data-regular'].map(async (a) => Number(await row.getAttribute(a))),
    );
    expect(l).toBeLessThanOrEqual(j);
    expect(p).toBeLessThanOrEqual(l);
    expect(r).toBeLessThanOrEqual(p);
    joined += j;
    linked += l;
  }
  expect(joined).toBe(Number(expected.joined));
  // Most demo players linked their game accounts.
  expect(linked).toBeGreaterThan(0);
});
