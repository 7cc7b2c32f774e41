// Opens a zone console through the agent in headless Chromium, with the clients the Zoneweaver
// UI uses (noVNC for the screen, xterm.js for the serial console), and prints what the browser
// saw as one JSON line. The Rust test (crates/agent/tests/browser.rs) starts the agent, makes
// the zone and the ticket, runs this and judges the output.
//
//   node console.mjs vnc    <wss-url-with-ticket> <rows>   (the top <rows> of the canvas, as hex RGBA)
//   node console.mjs serial <wss-url-with-ticket> <text-to-type> <text-to-wait-for>
//
// The pages are served to the browser by request interception from this folder's
// node_modules, so nothing listens and nothing is fetched from the network.
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// localhost is a secure context, which noVNC requires; the requests never leave the browser.
const ORIGIN = 'http://localhost';
const [mode, wsUrl, typed, awaited] = process.argv.slice(2);
const rows = Number(process.argv[4] || 0);
const deadlineMs = Number(process.env.CONSOLE_TEST_TIMEOUT_MS || 60000);

const pages = {
  '/vnc.html': `<!doctype html><meta charset="utf-8"><div id="screen"></div>
<script type="module">
import RFB from '/m/@novnc/novnc/core/rfb.js';
const rfb = new RFB(document.getElementById('screen'), ${JSON.stringify(wsUrl)},
                    { wsProtocols: ['binary'] });
rfb.scaleViewport = false;
rfb.addEventListener('connect', () => { window.vncState = 'connected'; });
rfb.addEventListener('disconnect', (e) => { window.vncState = 'disconnected:' + e.detail.clean; });
rfb.addEventListener('desktopname', (e) => { window.vncName = e.detail.name; });
window.vncState = 'connecting';
</script>`,
  '/serial.html': `<!doctype html><meta charset="utf-8">
<link rel="stylesheet" href="/m/@xterm/xterm/css/xterm.css"><div id="term"></div>
<script type="module">
import { Terminal } from '/m/@xterm/xterm/lib/xterm.mjs';
const term = new Terminal({ cols: 80, rows: 24 });
term.open(document.getElementById('term'));
const ws = new WebSocket(${JSON.stringify(wsUrl)});
ws.binaryType = 'arraybuffer';
ws.onopen = () => {
  window.termState = 'open';
  ws.send(JSON.stringify({ type: 'resize', cols: 80, rows: 24 }));
};
ws.onclose = (e) => { window.termState = 'closed:' + e.code + ':' + e.reason; };
ws.onmessage = (e) => term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
term.onData((d) => ws.readyState === 1 && ws.send(new TextEncoder().encode(d)));
window.termText = () => {
  const b = term.buffer.active, out = [];
  for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
  return out.join('\\n');
};
window.termState = 'connecting';
term.focus();
</script>`,
};

async function serve(route) {
  const url = new URL(route.request().url());
  if (pages[url.pathname]) {
    return route.fulfill({ contentType: 'text/html', body: pages[url.pathname] });
  }
  if (url.pathname.startsWith('/m/')) {
    const root = join(here, 'node_modules');
    const file = normalize(join(root, url.pathname.slice(3)));
    if (file.startsWith(root)) {
      try {
        const body = await readFile(file);
        const type = file.endsWith('.css') ? 'text/css' : 'text/javascript';
        return route.fulfill({ contentType: type, body });
      } catch {}
    }
  }
  return route.fulfill({ status: 404, body: 'not found' });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         // The agent's certificate is the self-signed one it made for this test.
         '--ignore-certificate-errors',
         // The page is served by interception, so Chromium cannot place its origin and would
         // treat the socket to the loopback agent as a local-network request to block.
         '--disable-features=LocalNetworkAccessChecks'],
});
const result = { mode };
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
  await page.route(`${ORIGIN}/**`, serve);
  if (mode === 'vnc') {
    await page.goto(`${ORIGIN}/vnc.html`);
    // The module may still be loading (a loaded machine): wait for it to set the state first.
    await page.waitForFunction(() => window.vncState && window.vncState !== 'connecting', null,
                               { timeout: deadlineMs });
    result.state = await page.evaluate(() => window.vncState);
    if (result.state !== 'connected') throw new Error(`noVNC did not connect: ${result.state}`);
    // Wait for the first framebuffer update to reach the canvas: any pixel not black.
    await page.waitForFunction(() => {
      const c = document.querySelector('#screen canvas');
      if (!c || !c.width) return false;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) if (d[i] | d[i + 1] | d[i + 2]) return true;
      return false;
    }, null, { timeout: deadlineMs });
    Object.assign(result, await page.evaluate((rows) => {
      const c = document.querySelector('#screen canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, rows).data;
      let hex = '';
      for (const b of d) hex += b.toString(16).padStart(2, '0');
      return { name: window.vncName, width: c.width, height: c.height, rgba: hex };
    }, rows));
  } else if (mode === 'serial') {
    await page.goto(`${ORIGIN}/serial.html`);
    await page.waitForFunction(() => window.termState && window.termState !== 'connecting', null,
                               { timeout: deadlineMs });
    result.state = await page.evaluate(() => window.termState);
    // Typed as a person would: keystrokes into the focused terminal, lines ended by Enter.
    for (const line of (typed || '').split('\n')) {
      await page.keyboard.type(line, { delay: 5 });
      await page.keyboard.press('Enter');
    }
    await page.waitForFunction((t) => window.termText().includes(t)
      || window.termState.startsWith('closed'), awaited, { timeout: deadlineMs });
    result.text = await page.evaluate(() => window.termText());
    result.state = await page.evaluate(() => window.termState);
    if (!result.text.includes(awaited)) throw new Error(`console closed before "${awaited}"`);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e && e.message || e);
} finally {
  await browser.close();
}
// Exit only once the line is written: a pipe takes 64 KiB at a time.
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
