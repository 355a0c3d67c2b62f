// The overview shows exactly what the pipeline wrote to gold.daily_active_users, and the
// range picker refetches in the browser without reloading the page.
import { expect, test } from '@playwright/test';
import { addDays, daysBetween, expectOverviewMatchesDb, query, signIn, waitForHydration } from './support';

test('a leader sees the DAU of the default range and of ranges picked after hydration', async ({ page }) => {
  const [{ days }] = await query<{ days: number }>('select count(*)::int as days from gold.daily_active_users where dau_total > 0');
  expect(days, 'the demo data filled gold.daily_active_users').toBeGreaterThan(20);

  const today = async () =>
    (await query<{ today: string }>("select (now() at time zone 'Europe/Berlin')::date::text as today"))[0].today;
  const todayBefore = await today();
  await signIn(page, 'leader');
  await expect(page.getByTestId('overview')).toBeVisible();

  // Default: the last 30 days, ending today (in the community's time zone; midnight may
  // pass while the page loads).
  const from = await page.getByTestId('range-from').inputValue();
  const to = await page.getByTestId('range-to').inputValue();
  expect(daysBetween(from, to)).toHaveLength(30);
  expect([todayBefore, await today()]).toContain(to);
  await expectOverviewMatchesDb(page, from, to);

  // From here on every change must happen in the page: a full load would drop this marker.
  await page.evaluate(() => ((window as unknown as { e2eMarker: string }).e2eMarker = 'still here'));
  const marker = () => page.evaluate(() => (window as unknown as { e2eMarker?: string }).e2eMarker);

  // Preset: last 7 days.
  await page.locator('[data-preset="7"]').click();
  await expect(page).toHaveURL(new RegExp(`from=${addDays(to, -6)}&to=${to}`));
  await expectOverviewMatchesDb(page, addDays(to, -6), to);
  await expect(page.locator('[data-preset="7"]')).toHaveAttribute('aria-current', 'true');

  // Typed dates: an older window inside the demo data.
  const newTo = addDays(to, -10);
  const newFrom = addDays(to, -40);
  await page.getByTestId('range-to').fill(newTo);
  await expect(page).toHaveURL(new RegExp(`to=${newTo}`));
  await page.getByTestId('range-from').fill(newFrom);
  await expect(page).toHaveURL(new RegExp(`from=${newFrom}&to=${newTo}`));
  await expectOverviewMatchesDb(page, newFrom, newTo);
  expect(await marker()).toBe('still here');

  // The range lives in the URL: a reload shows the same range, rendered by the server.
  await page.reload();
  await expect(page.getByTestId('range-from')).toHaveValue(newFrom);
  await expectOverviewMatchesDb(page, newFrom, newTo);
});

test('a range with the end before the start says so', async ({ page }) => {
  await signIn(page, 'leader', '/?from=2026-02-10&to=2026-02-01');
  await expect(page.getByRole('alert')).toContainText('before its start');
});

test('a range before any data shows the empty state', async ({ page }) => {
  await signIn(page, 'leader', '/?from=2020-01-01&to=2020-01-07');
  await expect(page.getByTestId('dau-empty')).toHaveText('There is no data for this range yet.');
  await expect(page.getByTestId('dau-table')).toHaveCount(0);
});

test('a visitor gets the sign-in page with demo buttons that post', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('sign-in')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Sign in with Discord' })).toHaveAttribute('href', '/auth/login');
  const demo = page.getByTestId('demo-login');
  await expect(demo.getByRole('button')).toHaveCount(3);
  await expect(demo.locator('form[method="post"][action="/auth/demo"]')).toHaveCount(3);
  await expect(demo.getByRole('link')).toHaveCount(0);
  // The button signs in (after hydration too: the form is the server's, not the router's).
  await waitForHydration(page);
  await demo.getByRole('button', { name: 'Leader' }).click();
  await page.waitForURL((url) => url.pathname === '/');
  await expect(page.getByTestId('user')).toBeVisible();
});
