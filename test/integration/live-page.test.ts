// The live topology page (GET / of the daemon's HTTP listener) in a real browser: Debian's
// headless Chromium driven by puppeteer-core loads the page of one host, sees the seed's
// two tables with the current master, and, during a failover (kill -9 of the master's
// database), sees the masters shown change without a reload and the role change in the
// recent events. Takes a screenshot; with YCS_UPDATE_DOCS=1 it becomes
// docs/img/live-page.png (the one in docs/metrics.md).
// Runs the compiled daemon: `npm run build` first. Needs chromium.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/demo/cluster.js';
import { startFailoverCluster, type FailoverFixture } from '../helpers/cluster-fixture.js';

let fx: FailoverFixture;
let browser: Browser | undefined;

beforeAll(async () => {
  fx = await startFailoverCluster('page', { http: true });
  browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await fx?.cleanup();
}, 60_000);

describe('live topology page in headless Chromium', () => {
  it('shows the two tables and follows a failover live', async () => {
    const before = await fx.waitHealthy(40_000);
    const observer = [1, 2, 3].find((h) => h !== before.master)!; // a host that stays up throughout
    const page = await browser!.newPage();
    await page.setViewport({ width: 412, height: 860, deviceScaleFactor: 1 }); // a phone
    await page.goto(`${fx.cluster.host(observer).httpUrl}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction((m: number) => document.getElementById('summary')?.dataset.master === String(m), { timeout: 10_000 }, before.master);
    const headers = await page.$$eval('#summary th, #hosts th', (ths) => ths.map((t) => t.textContent));
    expect(headers).toEqual(['Self Host ID', 'Cluster Master ID', 'YasDB Master ID', 'Active Host Count', 'Host ID', 'Target', 'State', 'YasDB', 'Heartbeat age']);
    const hostRows = await page.$$eval('#hosts tr', (trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(hostRows.map((r) => r[0])).toEqual(['1', '2', '3']);
    expect(hostRows.find((r) => r[0] === String(before.master))?.[3]).toBe('primary');
    // Each peer's heartbeat ages, fresh on a healthy cluster (well under the timeouts); 'self' for the observer.
    for (const r of hostRows) {
      if (r[0] === String(observer)) expect(r[4]).toBe('self');
      else expect(r[4]).toMatch(/^disk [01]\.\d s, net [01]\.\d s$/);
    }
    process.kill(fx.cluster.dbPid(before.master)!, 'SIGKILL');
    const t0 = performance.now();
    await page.waitForFunction((m: number) => { const v = document.getElementById('summary')?.dataset.master; return v !== undefined && v !== '0' && v !== String(m); }, { timeout: 15_000 }, before.master);
    const shownAfterMs = Math.round(performance.now() - t0);
    const newMaster = Number(await page.$eval('#summary', (t) => (t as HTMLElement).dataset.master));
    console.log(`live page: master ${before.master} -> ${newMaster} shown ${shownAfterMs} ms after the kill, no reload`);
    expect(newMaster).not.toBe(before.master);
    await page.close();
    // The new master's page lists its promotion among the recent events.
    const master = await browser!.newPage();
    await master.setViewport({ width: 412, height: 860, deviceScaleFactor: 1 });
    await master.goto(`${fx.cluster.host(newMaster).httpUrl}/`, { waitUntil: 'domcontentloaded' });
    await master.waitForFunction((h: number) => document.getElementById('events')?.textContent?.includes(`host ${h}: standby -> master`) === true, { timeout: 5_000 }, newMaster);
    await new Promise((r) => setTimeout(r, 1_500)); // the old master's database back as a standby
    const shot = (process.env.YCS_UPDATE_DOCS === '1' ? join(REPO_ROOT, 'docs/img/live-page.png') : join(fx.dir, 'live-page.png')) as `${string}.png`;
    await master.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    await master.close();
  }, 90_000);
});
