// `/admin/status`: the demo's collectors and jobs in the community's time zone, and a
// backfill started from the page that shows its progress without a reload and finishes.
import { expect, test } from '@playwright/test';
import { query, signIn, waitForHydration } from './support';

test('an admin sees the bot, the collectors and the jobs with their runs in local time', async ({ page }) => {
  await signIn(page, 'admin', '/admin/status');
  await waitForHydration(page);
  await expect(page.getByTestId('admin-status')).toBeVisible();
  await expect(page.getByTestId('zone-note')).toContainText('Europe/Berlin');
  await expect(page.getByTestId('bot-status')).toHaveText('The bot is off: set DISCORD_BOT_TOKEN.');
  // The demo server runs the game collector (no servers configured) and reports the bot off.
  const sources = page.getByTestId('sources-table');
  await expect(sources.locator('tbody tr[data-collector="discord"]')).toContainText('off');
  // Every job of the pipeline, in its order, with its last run (`run-job all` ran them).
  const jobs = page.getByTestId('jobs-table').locator('tbody tr');
  const names = await jobs.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-job')));
  const expected = await query<{ job: string }>('select job from app.pipeline_state');
  expect([...names].sort()).toEqual(expected.map((row) => row.job).sort());
  expect(names[0]).toBe('voice_sessions');
  await expect(jobs.filter({ has: page.locator('th', { hasText: /^voice_sessions$/ }) }).getByTestId('job-backlog')).toHaveText('0');
  // The history shows the span each run recomputed as local days: midnight to midnight.
  const dauRun = page.getByTestId('runs-table').locator('tbody tr[data-job="daily_active_users"]').first();
  await expect(dauRun.locator('td').nth(2)).toHaveText(/^\d{4}-\d{2}-\d{2} 00:00:00 – \d{4}-\d{2}-\d{2} 00:00:00$/);
});

test('a backfill started from the page shows its progress and finishes', async ({ page }) => {
  await signIn(page, 'admin', '/admin/status');
  await waitForHydration(page);
  const today = await page.locator('input[name="to"]').inputValue();
  const from = new Date(`${today}T00:00:00Z`);
  from.setUTCDate(from.getUTCDate() - 4);
  await page.locator('input[name="from"]').fill(from.toISOString().slice(0, 10));
  // Two jobs only.
  const checkboxes = page.getByTestId('backfill-form').locator('input[name="jobs"]');
  const count = await checkboxes.count();
  for (let i = 0; i < count; i++) {
    const box = checkboxes.nth(i);
    const name = await box.getAttribute('value');
    if (name !== 'voice_sessions' && name !== 'daily_active_users') await box.uncheck();
  }
  const before = await query<{ n: string }>("select count(*)::text as n from app.pipeline_runs where trigger = 'backfill'");
  await page.getByTestId('backfill-start').click();

  // It shows up without a reload, counts its days and ends finished.
  const progress = page.getByTestId('backfill-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toHaveAttribute('data-days-total', '5');
  await expect(progress).toHaveAttribute('data-state', 'finished', { timeout: 60_000 });
  await expect(progress).toHaveAttribute('data-days-done', '5');
  await expect(page.getByTestId('backfill-numbers')).toContainText('5 of 5 days');
  const runs = await query<{ job: string; n: string }>(
    `select job, count(*)::text as n from app.pipeline_runs
      where trigger = 'backfill' group by job order by job`,
  );
  expect(Number(before[0].n)).toBe(0);
  expect(runs).toEqual([
    { job: 'daily_active_users', n: '5' },
    { job: 'voice_sessions', n: '5' },
  ]);
  const rows = await query<{ rows_written: string }>('select rows_written::text from app.backfills order by id desc limit 1');
  await expect(page.getByTestId('backfill-numbers')).toContainText(`${Number(rows[0].rows_written).toLocaleString('en-US')} rows written`);
});
