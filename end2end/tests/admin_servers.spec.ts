// Game servers in the browser (/admin/servers, the console's servers section): an admin
// adds a CS2 server against the loopback RCON test server, tests the connection and sees
// its `status` answer; a wrong password is reported as one; a new log address is shown
// once; an SFTP server's unknown host key is shown and confirmed; no response the page
// receives holds a password (they are sealed with the server's GUILDHALL_SECRET_KEY, which
// scripts/e2e.sh sets); leaders and members are refused the page and its server functions. The RCON and SFTP peers are the collectors' `test_peers`
// example, started by scripts/e2e.sh (E2E_TEST_PEERS holds their addresses).
import { expect, test, type Page, type Response } from '@playwright/test';
import { query, signIn, waitForHydration } from './support';

interface Peers {
  rcon: string;
  rcon_password: string;
  sftp: string;
  sftp_user: string;
  sftp_password: string;
  sftp_folder: string;
  sftp_fingerprint: string;
}

function peers(): Peers {
  const text = process.env.E2E_TEST_PEERS;
  if (!text) throw new Error('E2E_TEST_PEERS is not set: run the tests with `make test-e2e`');
  return JSON.parse(text) as Peers;
}

/** Every response body the page receives, to search for secrets. */
function recordResponses(page: Page): { bodies: () => Promise<string[]>; functions: Set<string> } {
  const pending: Promise<string>[] = [];
  const functions = new Set<string>();
  page.on('response', (response: Response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/api/')) functions.add(url.pathname);
    pending.push(response.text().catch(() => ''));
  });
  return { bodies: () => Promise.all(pending), functions };
}

/** The server function paths the admin's page called, for the refusal test. */
const calledFunctions = new Set<string>();

test.describe.serial('game servers in the browser', () => {
  // The servers page's tests count the demo's servers: leave none of these behind.
  test.afterAll(async () => {
    await query("delete from app.game_servers where name like 'E2E %'");
  });

  test('an admin adds a CS2 server, tests its connection and never gets its password back', async ({ page }) => {
    const { rcon, rcon_password } = peers();
    const [host, port] = [rcon.slice(0, rcon.lastIndexOf(':')), rcon.slice(rcon.lastIndexOf(':') + 1)];
    const recorded = recordResponses(page);
    await signIn(page, 'admin', '/admin/servers');
    await waitForHydration(page);
    await expect(page.getByTestId('admin-servers')).toBeVisible();
    // Inside the console frame, on the community's clock.
    await expect(page.getByTestId('admin')).toHaveAttribute('data-section', 'servers');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Game servers');
    await expect(page.getByTestId('zone-note')).toContainText('Times in');

    await page.getByTestId('add-server').click();
    const form = page.getByTestId('server-form');
    await form.getByLabel('Name', { exact: true }).fill('E2E Dust');
    await form.getByLabel('Game').selectOption('cs2');
    await form.getByLabel('Host', { exact: true }).fill(host);
    await form.getByLabel('RCON port').fill(port);
    await form.getByLabel('RCON password').fill('not-the-password');
    await form.getByLabel('Log source').selectOption('http');

    // A wrong password is reported as a wrong password.
    await form.getByTestId('test-form').click();
    const rconResult = form.getByTestId('rcon-result');
    await expect(rconResult).toHaveAttribute('data-problem', 'WrongPassword');
    await expect(rconResult).toContainText(`Wrong password: ${rcon} refused the RCON password.`);

    // The right one: `status` answered, with the map and the player.
    await form.getByLabel('RCON password').fill(rcon_password);
    await form.getByTestId('test-form').click();
    await expect(rconResult).toHaveAttribute('data-outcome', 'ok');
    await expect(rconResult).toContainText('status answered: map de_nuke, 1 players, 2 bots');
    await expect(form.getByTestId('rcon-players')).toHaveText('XylotoGhost');

    // A problem shows next to its field.
    await form.getByLabel('Poll every … seconds').fill('2');
    await form.getByTestId('save-server').click();
    await expect(form.locator('[data-field="poll_interval_secs"] [data-testid="field-error"]')).toHaveText(
      'Choose between 5 and 3,600 seconds.',
    );
    await form.getByLabel('Poll every … seconds').fill('30');
    await form.getByTestId('save-server').click();

    // Saved: the log address is shown once, and the card says the password is set.
    const address = page.getByTestId('log-address');
    await expect(address).toBeVisible();
    await expect(address.getByTestId('log-command')).toHaveText(/^logaddress_add_http "http:\/\/.+\/ingest\/logs\/[0-9a-f]{64}"$/);
    const card = page.locator('[data-testid="server-card"][data-server="E2E Dust"]');
    await expect(card.getByTestId('rcon-password-state')).toHaveText('set');

    // A new log token: the new address is shown once, and differs.
    const firstCommand = (await address.getByTestId('log-command').textContent()) ?? '';
    await card.getByTestId('new-token').click();
    await expect(page.getByTestId('log-command')).toHaveText(/^logaddress_add_http "http:\/\/.+\/ingest\/logs\/[0-9a-f]{64}"$/);
    await expect(page.getByTestId('log-command')).not.toHaveText(firstCommand);

    // The saved server tests with its stored password.
    await card.getByTestId('test-server').click();
    await expect(card.getByTestId('rcon-result')).toHaveAttribute('data-outcome', 'ok');
    await expect(card.getByTestId('rcon-result')).toContainText('map de_nuke');

    // Editing keeps the password unless replaced.
    await card.getByTestId('edit-server').click();
    await expect(card.getByTestId('server-form').getByTestId('secret-set')).toHaveText('set');

    const [row] = await query<{ rcon_port: number; enabled: boolean }>(
      "select rcon_port, enabled from app.game_servers where name = 'E2E Dust'",
    );
    expect(row).toEqual({ rcon_port: Number(port), enabled: true });
    const [audited] = await query<{ actions: string }>(
      "select string_agg(action, ',' order by id) as actions from app.audit_log where subject like 'game server E2E Dust%'",
    );
    expect(audited.actions).toBe('game_server.add,game_server.log_token');
    // Stored sealed: the clear column stays empty.
    const [sealed] = await query<{ clear: string | null; sealed: boolean }>(
      "select rcon_password as clear, rcon_password_sealed is not null as sealed from app.game_servers where name = 'E2E Dust'",
    );
    expect(sealed).toEqual({ clear: null, sealed: true });

    const bodies = await recorded.bodies();
    expect(bodies.length).toBeGreaterThan(5);
    for (const body of bodies) {
      expect(body.includes(rcon_password), 'a response holds the RCON password').toBe(false);
    }
    for (const path of recorded.functions) calledFunctions.add(path);
  });

  test("an SFTP server's unknown host key is shown and confirmed before it is trusted", async ({ page }) => {
    const { sftp, sftp_user, sftp_password, sftp_folder, sftp_fingerprint } = peers();
    const [host, port] = [sftp.slice(0, sftp.lastIndexOf(':')), sftp.slice(sftp.lastIndexOf(':') + 1)];
    const recorded = recordResponses(page);
    await signIn(page, 'admin', '/admin/servers');
    await waitForHydration(page);
    await page.getByTestId('add-server').click();
    const form = page.getByTestId('server-form');
    await form.getByLabel('Name', { exact: true }).fill('E2E Survival');
    await form.getByLabel('Game').selectOption('minecraft');
    await form.getByLabel('Host', { exact: true }).fill(host);
    await form.getByLabel('Log source').selectOption('sftp');
    await form.getByLabel('Log folder').fill(sftp_folder);
    await form.getByLabel('SFTP port').fill(port);
    await form.getByLabel('SFTP user').fill(sftp_user);
    await form.getByLabel('SFTP password').fill(sftp_password);

    // Not confirmed yet: saving is refused at the host key.
    await form.getByTestId('save-server').click();
    await expect(form.locator('[data-field="sftp_host_key"] [data-testid="field-error"]')).toHaveText(
      "Test the connection first and confirm the SFTP server's host key.",
    );

    // The test shows the key the server presents.
    await form.getByTestId('test-form').click();
    const logs = form.getByTestId('logs-result');
    await expect(logs).toHaveAttribute('data-outcome', 'unknown-key');
    await expect(logs.getByTestId('host-key-fingerprint')).toHaveText(sftp_fingerprint);
    expect(sftp_fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);

    // Confirmed: the key is in the form, the test lists the newest log files.
    await logs.getByTestId('trust-host-key').click();
    await expect(form.getByLabel('SFTP host key')).toHaveValue(sftp_fingerprint);
    await form.getByTestId('test-form').click();
    await expect(logs).toHaveAttribute('data-outcome', 'ok');
    await expect(logs).toContainText(`3 log files in ${sftp_folder}`);
    await expect(logs.getByTestId('log-files').locator('li').first()).toContainText(
      'L000_000_000_000_0_202611300000_000.log',
    );

    await form.getByTestId('save-server').click();
    const card = page.locator('[data-testid="server-card"][data-server="E2E Survival"]');
    await expect(card.getByTestId('pinned-host-key')).toHaveText(sftp_fingerprint);
    const [row] = await query<{ sftp_host_key: string }>(
      "select sftp_host_key from app.game_servers where name = 'E2E Survival'",
    );
    expect(row.sftp_host_key).toBe(sftp_fingerprint);

    for (const body of await recorded.bodies()) {
      expect(body.includes(sftp_password), 'a response holds the SFTP password').toBe(false);
    }
    for (const path of recorded.functions) calledFunctions.add(path);
  });

  test('an admin deletes a server and erases its history only after typing its name', async ({ page }) => {
    await signIn(page, 'admin', '/admin/servers');
    await waitForHydration(page);
    for (const name of ['E2E Dust', 'E2E Survival']) {
      const card = page.locator(`[data-testid="server-card"][data-server="${name}"]`);
      await card.getByTestId('delete-server').click();
      const panel = card.getByTestId('delete-panel');
      await panel.getByTestId('erase-history').check();
      await panel.getByTestId('erase-confirmation').fill(name.toLowerCase());
      await panel.getByTestId('confirm-delete').click();
      await expect(panel.getByTestId('field-error')).toHaveText(`Type exactly “${name}”.`);
      await panel.getByTestId('erase-confirmation').fill(name);
      await panel.getByTestId('confirm-delete').click();
      // The collectors may have polled it meanwhile: some rows, or none.
      await expect(page.getByTestId('deleted')).toHaveText(
        new RegExp(`^${name} was deleted and [0-9,]+ rows of its history were erased\\.$`),
      );
      await expect(card).toHaveCount(0);
    }
    const left = await query("select name from app.game_servers where name like 'E2E %'");
    expect(left).toEqual([]);
  });

  for (const role of ['leader', 'member'] as const) {
    test(`a ${role} is refused the page and every function it calls`, async ({ page }) => {
      expect(calledFunctions.size).toBeGreaterThanOrEqual(3);
      await signIn(page, role);
      const response = await page.goto('/admin/servers');
      expect(response?.status()).toBe(403);
      await expect(page.getByTestId('admin-servers')).toHaveCount(0);
      for (const path of calledFunctions) {
        // Arguments every one of them parses, so only the role decides.
        const answer = await page.request.post(path, {
          form: {
            server_id: '1',
            enabled: 'false',
            erase_history: 'false',
            confirmation: '',
            fingerprint: 'SHA256:x',
            'form[name]': 'x',
          },
        });
        expect(answer.status(), path).toBe(403);
        expect(await answer.text()).not.toContain('E2E Dust');
      }
    });
  }
});
