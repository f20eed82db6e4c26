import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { gqlOk } from '../support/http';
import { outcomeOf } from '../support/people';
import { REPO_ROOT } from '../support/scratch';
import { ADMIN, PASSWORD, startServer, type TestServer, type TestUser } from '../support/server';
import { buildBoard, HAS_CHROMIUM, SCREENSHOT_DIR, launchChromium, newPage, pngImage, screenshot, signInOnBoard } from './browser';

/**
 * Issue 13 in a real browser: three people in three browser contexts (plus an administrator)
 * work one ticket from filing to closing, and every change reaches the others' boards without a
 * reload. Embedded database only: the board uses nothing of its own in the database, and the
 * API's behaviour on PostgreSQL is covered by every other suite (docs/board.md).
 */
// Functions passed to page.evaluate run in the page; these are its globals (this file only).
declare const document: {
  querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }>;
  querySelector(selector: string): { textContent: string | null } | null;
  documentElement: { scrollWidth: number };
};
declare const sessionStorage: { getItem(key: string): string | null };

const describeBrowser = HAS_CHROMIUM ? describe : describe.skip;
if (!HAS_CHROMIUM) {
  console.warn('test/board/live-board.test.ts skipped: /usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)');
}

const FLAGS =
  'query Flags($id: ID!) { ticket(id: $id) { status permissions { reply edit assign startProcessing requestInformation fix close reopen cancel } } }';

/** The flags that are true for `user` on ticket `id`, as the API answers them. */
async function trueFlags(server: TestServer, user: TestUser, id: string): Promise<string[]> {
  const data = await gqlOk(server, user, FLAGS, { id });
  return Object.entries(data.ticket.permissions as Record<string, boolean>)
    .filter(([, value]) => value)
    .map(([name]) => name)
    .sort();
}

/** The action controls the open ticket shows (each carries the flag it stands for). */
async function buttons(page: Page): Promise<string[]> {
  return (await page.locator('article [data-action]').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-action') ?? ''))).sort();
}

/** Waits until the open ticket is in `status` and its buttons are exactly the API's true flags. */
async function expectButtonsFollowFlags(server: TestServer, page: Page, user: TestUser, id: string, status: string): Promise<string[]> {
  await page.locator(`article[data-ticket-id="${id}"][data-status="${status}"]`).waitFor();
  const expected = await trueFlags(server, user, id);
  await page.waitForFunction((want) => {
    const have = Array.from(document.querySelectorAll('article [data-action]'))
      .map((node) => node.getAttribute('data-action'))
      .sort();
    return JSON.stringify(have) === JSON.stringify(want);
  }, expected);
  expect(await buttons(page)).toEqual(expected);
  return expected;
}

/** Signs in with the keyboard alone: the form's controls are reachable and labelled. */
async function signInWithKeyboard(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Username').waitFor();
  await page.keyboard.press('Tab'); // the first control of the page is the username
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.locator('[data-connection="live"]').waitFor();
}

/**
 * Installed in the customer's page: once `__orderSignOutClose` is set, the 4403 close that the
 * page's own logout causes is delivered in the worst order the network can produce: the logout's
 * answer waits until the close has arrived (held, not delivered), and the close is delivered the
 * moment "You signed out." is in the DOM, before the next paint (when the board lets go of its
 * socket). Under load this order happened by chance and the close replaced the notice.
 */
const ORDER_SIGN_OUT_CLOSE = `(() => {
  const held = [];
  let released = false;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    set onclose(handler) {
      super.onclose = handler && ((event) => {
        if (window.__orderSignOutClose && !released && event.code === 4403) held.push(() => handler.call(this, event));
        else handler.call(this, event);
      });
    }
    get onclose() { return super.onclose; }
  };
  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await nativeFetch(input, init);
    if (window.__orderSignOutClose && String(init && init.body).includes('logout')) {
      for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      new MutationObserver((_, observer) => {
        if (!document.body.textContent.includes('You signed out.')) return;
        observer.disconnect();
        released = true;
        window.__signOutClosesDelivered = held.length;
        for (const deliver of held.splice(0)) deliver();
      }).observe(document.body, { childList: true, subtree: true, characterData: true });
    }
    return response;
  };
})();`;

const listItem = (page: Page, id: string, status?: string) => page.locator(`ul.tickets li[data-ticket-id="${id}"]${status ? `[data-status="${status}"]` : ''}`);
const countOf = async (page: Page, status: string) => Number(await page.locator(`button.count[data-status="${status}"] strong`).textContent());

describeBrowser('the live board in Chromium (embedded database)', () => {
  let server: TestServer;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    const started = Date.now();
    rmSync(SCREENSHOT_DIR, { recursive: true, force: true }); // this run's pictures only
    buildBoard();
    // Each is kept as soon as it is up, so afterAll closes it even if the other fails to start.
    const launching = launchChromium().then((launched) => (chromium = launched));
    server = await startServer('embedded');
    await launching;
    console.log(`board suite setup (bundle, server, Chromium): ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 180_000); // bounds a failure only: a loaded CI machine starts the server slowly
  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  it('files, assigns, fixes and closes one ticket across three boards, live, through a network cut, and signs out a deactivated user', async () => {
    const started = Date.now();
    const { browser } = chromium;
    const { users } = server;
    const [customer, scheduler, staff, admin] = await Promise.all([newPage(browser), newPage(browser), newPage(browser), newPage(browser)]);
    await customer.context.addInitScript(ORDER_SIGN_OUT_CLOSE);
    // The staff member's page runs on a clock the test can skip ahead (it flows as usual until then).
    await staff.context.clock.install();
    await Promise.all([
      signInOnBoard(customer.page, server.url, 'customer', PASSWORD),
      signInOnBoard(scheduler.page, server.url, 'scheduler', PASSWORD),
      signInOnBoard(staff.page, server.url, 'staff', PASSWORD),
      signInWithKeyboard(admin.page, server.url, ADMIN.username, ADMIN.password),
    ]);
    const newBefore = await countOf(scheduler.page, 'NEW');

    // 1. The customer files a ticket with an image, previewed before it is sent.
    const c = customer.page;
    await c.getByRole('link', { name: 'New ticket' }).click();
    await c.getByLabel('What is the problem?').fill('The printer on floor 3 prints everything in blue');
    await c.getByLabel(/^Images/).setInputFiles({ name: 'printout.png', mimeType: 'image/png', buffer: pngImage(64) });
    await c.getByRole('img', { name: 'Preview of printout.png' }).waitFor();
    await screenshot(c, 'customer-new-ticket-preview');
    await c.getByRole('button', { name: 'File ticket' }).click();
    const article = c.locator('article[data-ticket-id]');
    await article.waitFor();
    const id = (await article.getAttribute('data-ticket-id'))!;
    // The image is the uploaded one, served back by the server and shown.
    const image = c.getByRole('img', { name: 'Image 1 of the ticket' });
    await image.waitFor();
    expect(await image.evaluate((node) => (node as unknown as { naturalWidth: number }).naturalWidth)).toBe(64);
    await expectButtonsFollowFlags(server, c, users.customer, id, 'NEW');
    await screenshot(c, 'customer-filed');

    // 2. The scheduler's board shows it without a reload, counts included.
    const s = scheduler.page;
    await listItem(s, id, 'NEW').waitFor();
    await s.waitForFunction((want) => Number(document.querySelector('button.count[data-status="NEW"] strong')?.textContent) === want, newBefore + 1);
    await screenshot(s, 'scheduler-sees-new-ticket');

    // 3. The scheduler assigns it from the staff picker (showing load); the staff member's board shows it.
    await listItem(s, id).getByRole('link').click();
    await expectButtonsFollowFlags(server, s, users.scheduler, id, 'NEW');
    const picker = s.getByLabel('Staff member');
    const option = picker.locator('option', { hasText: /^staff \(\d+ open\)$/ });
    await picker.selectOption((await option.getAttribute('value'))!);
    await s.getByRole('button', { name: 'Assign', exact: true }).click();
    await expectButtonsFollowFlags(server, s, users.scheduler, id, 'ASSIGNED');
    const t = staff.page;
    await listItem(t, id, 'ASSIGNED').waitFor();
    await expectButtonsFollowFlags(server, c, users.customer, id, 'ASSIGNED');
    await screenshot(s, 'scheduler-assigned');
    await screenshot(t, 'staff-sees-assigned');

    // 4. The staff member starts and fixes it; the customer's board follows, buttons included.
    await listItem(t, id).getByRole('link').click();
    await expectButtonsFollowFlags(server, t, users.staff, id, 'ASSIGNED');
    await t.locator('article').getByRole('button', { name: 'Start processing', exact: true }).click();
    await expectButtonsFollowFlags(server, c, users.customer, id, 'IN_PROCESSING');
    await t.getByLabel('Your reply').fill('Looking at the toner settings now.');
    await t.getByRole('button', { name: 'Send reply' }).click();
    await c.getByText('Looking at the toner settings now.').waitFor();
    await t.locator('article').getByRole('button', { name: 'Mark fixed', exact: true }).click();
    await expectButtonsFollowFlags(server, t, users.staff, id, 'FIXED');
    await expectButtonsFollowFlags(server, c, users.customer, id, 'FIXED');
    await listItem(c, id, 'FIXED').waitFor();
    await screenshot(t, 'staff-fixed');
    await screenshot(c, 'customer-sees-fixed');

    // 5. The customer's network drops; meanwhile the scheduler closes the ticket and replies.
    await customer.context.setOffline(true);
    await c.locator('[data-connection="reconnecting"]').waitFor();
    await expectButtonsFollowFlags(server, s, users.scheduler, id, 'FIXED');
    await s.locator('article').getByRole('button', { name: 'Close', exact: true }).click();
    await expectButtonsFollowFlags(server, s, users.scheduler, id, 'CLOSED');
    await gqlOk(server, users.scheduler, 'mutation($id: ID!) { requestInformation(id: $id) { id } }', { id }).catch(() => undefined); // refused from CLOSED: no event
    await screenshot(c, 'customer-offline');
    // Offline, the customer's board has not heard of it.
    expect(await c.locator('article').getAttribute('data-status')).toBe('FIXED');
    await customer.context.setOffline(false);
    // Back online: it reconnects, resumes from its cursor, and shows the close.
    await c.locator('[data-connection="live"]').waitFor();
    await expectButtonsFollowFlags(server, c, users.customer, id, 'CLOSED');
    await listItem(c, id, 'CLOSED').waitFor();
    // Nothing missed, nothing repeated: the customer's activity holds every event of the ticket
    // in the log, once each, in order.
    const log = await gqlOk(server, users.customer, 'query($id: ID!) { ticketEventLog(ticketId: $id, first: 100) { edges { node { cursor kind } } } }', { id });
    const expectedCursors: string[] = log.ticketEventLog.edges.map((edge: { node: { cursor: string } }) => edge.node.cursor);
    expect(log.ticketEventLog.edges.map((edge: { node: { kind: string } }) => edge.node.kind)).toEqual([
      'CREATED',
      'STATUS_CHANGED',
      'STATUS_CHANGED',
      'REPLY_ADDED',
      'STATUS_CHANGED',
      'STATUS_CHANGED',
    ]);
    const seen = await c.locator(`.activity li[data-ticket-id="${id}"]`).evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-cursor')));
    expect(seen.reverse()).toEqual(expectedCursors);
    await screenshot(c, 'customer-back-online');

    // 6. The customer reopens it; the scheduler's and staff member's boards follow.
    await c.locator('article').getByRole('button', { name: 'Reopen', exact: true }).click();
    await expectButtonsFollowFlags(server, c, users.customer, id, 'REOPEN');
    await listItem(s, id, 'REOPEN').waitFor();
    await expectButtonsFollowFlags(server, s, users.scheduler, id, 'REOPEN');

    // The customer replies and deletes that reply; the scheduler's board follows both.
    await c.getByLabel('Your reply').fill('It is back: blue again since this morning.');
    await c.getByRole('button', { name: 'Send reply' }).click();
    await s.getByText('It is back: blue again since this morning.').waitFor();
    await c.getByRole('button', { name: /^Delete your reply/ }).click();
    await s.getByText('It is back: blue again since this morning.').waitFor({ state: 'detached' });

    // The scheduler finds it by search, and not by a word it does not hold.
    await s.getByLabel('Search').fill('photocopier');
    await s.getByText('No tickets here.').waitFor();
    await s.getByLabel('Search').fill('printer blue');
    await listItem(s, id).waitFor();
    await s.getByLabel('Search').fill('');

    // 6b. A change that crosses another: while the scheduler's "Cancel ticket" is on its way, the
    // customer cancels first. The server answers CONFLICT (409); the board says so in words and
    // shows the ticket as it is now.
    await s.route('**/graphql', async (route) => {
      if (String(route.request().postData()).includes('cancelTicket')) {
        await gqlOk(server, users.customer, 'mutation($id: ID!) { cancelTicket(id: $id) { id } }', { id });
      }
      await route.continue();
    });
    await s.locator('article').getByRole('button', { name: 'Cancel ticket', exact: true }).click();
    const alert = s.locator('article [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^This ticket changed meanwhile: it is now Cancelled\. .+/);
    await expectButtonsFollowFlags(server, s, users.scheduler, id, 'CANCEL');
    await s.unroute('**/graphql');
    await screenshot(s, 'scheduler-conflict');
    await expectButtonsFollowFlags(server, c, users.customer, id, 'CANCEL');

    // A ticket reassigned to a colleague leaves the staff member's board, and its open page says
    // so. No event reaches them (the API sends a ticket's events to who may see it now): the
    // board re-reads a staff member's list every 15 s, which the page's clock skips ahead to.
    const second = await gqlOk(server, users.customer, 'mutation { createTicket(input: { content: "The scanner jams on every page" }) { id } }');
    const id2: string = second.createTicket.id;
    const assign = 'mutation($id: ID!, $staff: ID!) { assignTicket(id: $id, staffId: $staff) { id } }';
    await gqlOk(server, users.scheduler, assign, { id: id2, staff: String(users.staff.id) });
    await listItem(t, id2, 'ASSIGNED').getByRole('link').click();
    await t.locator(`article[data-ticket-id="${id2}"]`).waitFor();
    await gqlOk(server, users.scheduler, assign, { id: id2, staff: String(users.otherStaff.id) });
    await t.clock.fastForward(16_000);
    await listItem(t, id2).waitFor({ state: 'detached' });
    await t.getByText('You can no longer see this ticket.').waitFor();
    await screenshot(t, 'staff-ticket-reassigned-away');

    // 7. The administrator deactivates the staff member: their board is signed out at once.
    const a = admin.page;
    await a.getByRole('link', { name: 'Users' }).click();
    const row = a.locator('tr[data-username="staff"]');
    await row.getByRole('button', { name: 'Deactivate' }).click();
    await a.getByText('staff deactivated.').waitFor();
    await t.getByRole('button', { name: 'Sign in' }).waitFor();
    await t.getByText(/Signed out/).waitFor();
    expect(await t.evaluate(() => sessionStorage.getItem('helpdesk.token'))).toBeNull();
    await screenshot(a, 'admin-deactivated-staff');
    await screenshot(t, 'staff-signed-out');

    // The board at 390 px wide (a phone), and the README's pictures from this run.
    await s.setViewportSize({ width: 1280, height: 860 });
    const wide = await screenshot(s, 'scheduler-board-1280');
    await c.setViewportSize({ width: 390, height: 844 });
    const narrow = await screenshot(c, 'customer-board-390');
    expect(await c.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    if (process.env.BOARD_SCREENSHOTS_TO_DOCS) {
      copyFileSync(wide, path.join(REPO_ROOT, 'docs', 'board-scheduler.png'));
      copyFileSync(narrow, path.join(REPO_ROOT, 'docs', 'board-customer-390.png'));
    }

    // Signing out revokes the token: the API refuses it afterwards.
    const token = await c.evaluate(() => sessionStorage.getItem('helpdesk.token'));
    expect(await outcomeOf(server, { token: token! }, '{ me { id } }')).toBe('OK');
    // Its own socket's 4403 arrives after the logout's answer, before the board lets go of the socket.
    await c.evaluate('window.__orderSignOutClose = true');
    await c.getByRole('button', { name: 'Sign out' }).click();
    await c.getByText('You signed out.').waitFor();
    // The close was held and delivered in that order, and it changed nothing.
    expect(await c.evaluate('window.__signOutClosesDelivered')).toBe(1);
    await c.waitForTimeout(300);
    await c.getByText('You signed out.').waitFor();
    expect(await c.getByText(/Signed out:/).count()).toBe(0);
    expect(await c.evaluate(() => sessionStorage.getItem('helpdesk.token'))).toBeNull();
    expect(await outcomeOf(server, { token: token! }, '{ me { id } }')).toBe('UNAUTHENTICATED');

    await Promise.all([customer, scheduler, staff, admin].map(({ context }) => context.close()));
    console.log(`board scenario: ${((Date.now() - started) / 1000).toFixed(1)} s, ${readdirSync(SCREENSHOT_DIR).length} screenshots in ${SCREENSHOT_DIR}`);
  }, 240_000);
});
