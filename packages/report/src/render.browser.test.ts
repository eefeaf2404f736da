/**
 * The report page in a real browser: Debian's chromium, headless, on the written file. The DOM
 * chromium builds (--dump-dom) must hold the headline numbers, every class row and the charts;
 * a screenshot must show the charts painted (pixels in the level colours). Needs the Debian
 * package `chromium` (or HAYSTACK_CHROMIUM=/path/to/chrome); fails, never skips, without it.
 * HAYSTACK_REPORT_SHOTS=<dir> keeps the page and screenshot there for a person to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { reportFixture } from './fixture.js';
import { fmtInt, renderHtml } from './render.js';

function findChromium(): string {
  const env = process.env.HAYSTACK_CHROMIUM;
  const candidates = env ? [env] : ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
  for (const c of candidates) {
    const paths = c.includes('/')
      ? [c]
      : (process.env.PATH ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((d) => join(d, c));
    for (const p of paths) {
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        /* next */
      }
    }
  }
  assert.fail(
    `chromium not found (${env ? `HAYSTACK_CHROMIUM=${env} is not an executable` : `looked for ${candidates.join(', ')} on PATH`}): the report page test needs a headless browser. ` +
      'Install the Debian package: apt-get install -y chromium (or set HAYSTACK_CHROMIUM=/path/to/chrome).',
  );
}

/** Flags for a closed network and a throwaway profile; no sandbox (containers, root). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
  '--force-device-scale-factor=1',
  '--force-color-profile=srgb',
];

async function chromium(args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  const bin = findChromium();
  const profile = mkdtempSync(join(tmpdir(), 'haystack-chromium-'));
  // Its own process group, so that the renderer and GPU helpers go down with it.
  const child = spawn(bin, [...FLAGS, `--user-data-dir=${profile}`, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  try {
    const code = await new Promise<number | null>((res, rej) => {
      const timer = setTimeout(() => {
        killGroup();
        rej(new Error(`chromium did not finish within ${timeoutMs} ms: ${Buffer.concat(err).toString().slice(-2000)}`));
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        rej(new Error(`cannot start ${bin}: ${e.message}`));
      });
      child.on('close', (c) => {
        clearTimeout(timer);
        res(c);
      });
    });
    const stderr = Buffer.concat(err).toString();
    assert.equal(code, 0, `chromium exited with ${code}: ${stderr.slice(-2000)}`);
    return { stdout: Buffer.concat(out).toString('utf8'), stderr };
  } finally {
    killGroup();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Decode an 8-bit RGB/RGBA non-interlaced PNG (what chromium writes) to RGBA pixels. */
function decodePng(buf: Buffer): { width: number; height: number; rgba: Buffer } {
  assert.ok(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature');
  let off = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      colorType = data[9]!;
      assert.ok(colorType === 2 || colorType === 6, `colour type ${colorType}`);
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = px.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? px.subarray((y - 1) * stride, y * stride) : null;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? row[x - bpp]! : 0;
      const b = up ? up[x]! : 0;
      const c = up && x >= bpp ? up[x - bpp]! : 0;
      let v = src[x]!;
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[x] = v & 0xff;
    }
  }
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0, j = 0; i < px.length; i += bpp, j += 4) {
    rgba[j] = px[i]!;
    rgba[j + 1] = px[i + 1]!;
    rgba[j + 2] = px[i + 2]!;
    rgba[j + 3] = bpp === 4 ? px[i + 3]! : 255;
  }
  return { width, height, rgba };
}

function countColor(img: { rgba: Buffer }, hex: string): number {
  const r = parseInt(hex.slice(1, 3), 16);
  const g = parseInt(hex.slice(3, 5), 16);
  const b = parseInt(hex.slice(5, 7), 16);
  let n = 0;
  for (let i = 0; i < img.rgba.length; i += 4) if (img.rgba[i] === r && img.rgba[i + 1] === g && img.rgba[i + 2] === b) n++;
  return n;
}

function workDir(): { dir: string; keep: boolean } {
  const keepDir = process.env.HAYSTACK_REPORT_SHOTS;
  if (keepDir) {
    mkdirSync(keepDir, { recursive: true });
    return { dir: resolve(keepDir), keep: true };
  }
  return { dir: mkdtempSync(join(tmpdir(), 'haystack-report-')), keep: false };
}

test('report page in headless chromium: DOM has the numbers, every class and the charts; the screenshot shows them', async (t) => {
  const { dir, keep } = workDir();
  try {
    const data = reportFixture();
    const page = join(dir, 'report.html');
    writeFileSync(page, renderHtml(data));
    const url = pathToFileURL(page).href;

    const { stdout: dom } = await chromium(['--dump-dom', url]);
    assert.match(dom, /<title>Haystack IoT detection report 2026-11-20<\/title>/, 'chromium loaded the page');
    const kpi = (id: string) => dom.match(new RegExp(`id="${id}"><div class="label">[^<]*</div><div class="value">([^<]*)</div>`))?.[1];
    assert.equal(kpi('kpi-active'), '1,284,513');
    assert.equal(kpi('kpi-detected'), '231,402');
    assert.equal(kpi('kpi-classes'), '35');
    assert.equal(kpi('kpi-quality'), '3 problems');

    for (const c of data.classes) {
      const row = dom.match(new RegExp(`<tr class="class[^"]*" data-class-id="${c.classId}" data-level="${c.level}">(.*?)</tr>`, 's'));
      assert.ok(row, `DOM row for ${c.classId}`);
      assert.ok(row[1]!.includes(`<th scope="row">${c.name.replace(/&/g, '&amp;')}</th>`), `${c.classId} name`);
      assert.ok(row[1]!.includes(`<td class="num lines">${fmtInt(c.detectedLines)}</td>`), `${c.classId} lines`);
      assert.ok(row[1]!.includes('<svg class="spark"'), `${c.classId} sparkline`);
    }
    const count = (re: RegExp) => (dom.match(re) ?? []).length;
    assert.equal(count(/<svg class="chart bars level-(platform|manufacturer|product)"/g), 3, 'one bar chart per level');
    assert.equal(count(/<svg class="chart changes"/g), 1, 'change chart');
    assert.equal(count(/<svg class="chart heatmap"/g), 1, 'hourly heatmap');
    const detected = data.classes.filter((c) => c.detectedLines > 0).length;
    assert.equal(count(/<rect class="bar" /g), detected, 'a bar per detected class');
    assert.equal(count(/<rect class="cell" /g), detected * 24, 'heatmap cells');
    assert.equal(count(/<script/g), 0);
    assert.match(dom, /<section id="quality" class="bad">/);

    // Tall enough for the whole page at 1280 px.
    const shot = join(dir, 'report.png');
    await chromium(['--window-size=1280,5600', `--screenshot=${shot}`, url]);
    const png = readFileSync(shot);
    t.diagnostic(`screenshot ${shot} (${png.length} bytes)${keep ? '' : ', removed after the test (set HAYSTACK_REPORT_SHOTS=<dir> to keep it)'}`);
    const img = decodePng(png);
    assert.equal(img.width, 1280);
    assert.equal(img.height, 5600);
    // A blank page of this size compresses to a few kB; the report is hundreds.
    assert.ok(png.length > 150_000, `screenshot has content (${png.length} bytes)`);
    // The charts were painted: solid bar interiors in each level's colour, the data-quality red.
    const px = {
      platform: countColor(img, '#3b5bdb'),
      manufacturer: countColor(img, '#0b7285'),
      product: countColor(img, '#c2255c'),
      bad: countColor(img, '#b42318'),
    };
    t.diagnostic(`pixels per colour: ${JSON.stringify(px)}`);
    for (const [k, n] of Object.entries(px)) assert.ok(n > 2_000, `${k} colour painted (${n} px)`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
});

test('report page in headless chromium: a hostile class name stays text', async () => {
  const { dir, keep } = workDir();
  try {
    const data = reportFixture();
    data.classes[0]!.name = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">';
    data.hitlist.notDetectable[0]!.reason = '</td></tr></table><script>document.title="pwned"</script>';
    const page = join(dir, 'hostile.html');
    writeFileSync(page, renderHtml(data));
    const { stdout: dom } = await chromium(['--dump-dom', pathToFileURL(page).href]);
    assert.match(dom, /<title>Haystack IoT detection report 2026-11-20<\/title>/, 'title unchanged');
    assert.ok(!/<script/i.test(dom), 'no script element in the DOM');
    assert.ok(!/<img/i.test(dom), 'no img element in the DOM');
    assert.ok(dom.includes('&lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;img src=x onerror="document.title=1"&gt;'), 'the name is text');
    assert.equal((dom.match(/<table class="notdetectable">/g) ?? []).length, 1);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
});

test('IXP report page in headless chromium: members ranked with their classes, the bar chart, a hostile member name stays text', async () => {
  const { dir, keep } = workDir();
  try {
    const data = reportFixture();
    data.ixp = {
      attribution: { mac: 120, as: 7, prefix: 3, none: 2 },
      members: [
        {
          asn: 65002,
          name: 'Beta <b>Cable</b>',
          iotHosts: 90,
          activeHosts: 600,
          shareOfActive: 0.15,
          estBytesToIot: 5.2e9,
          classes: [{ classId: data.classes[0]!.classId, level: data.classes[0]!.level, hosts: 90 }],
          hourly: Array.from({ length: 24 }, (_, h) => h),
        },
        {
          asn: 65001,
          name: 'Alpha Broadband',
          iotHosts: 40,
          activeHosts: 400,
          shareOfActive: 0.1,
          estBytesToIot: 1.1e9,
          classes: [{ classId: data.classes[1]!.classId, level: data.classes[1]!.level, hosts: 40 }],
          hourly: new Array<number>(24).fill(1),
        },
        { asn: 0, name: '', iotHosts: 2, activeHosts: 9, shareOfActive: 2 / 9, estBytesToIot: 1e6, classes: [], hourly: new Array(24).fill(0) },
      ],
    };
    const page = join(dir, 'ixp.html');
    writeFileSync(page, renderHtml(data));
    const { stdout: dom } = await chromium(['--dump-dom', pathToFileURL(page).href]);
    assert.match(dom, /<section id="members">/);
    const order = [...dom.matchAll(/<tr data-member-asn="(\d+)">/g)].map((m) => m[1]);
    assert.deepEqual(order, ['65002', '65001', '0'], 'ranked by IoT hosts');
    assert.ok(dom.includes('AS65002 Beta &lt;b&gt;Cable&lt;/b&gt;'), 'the member name is text');
    assert.match(dom, /<svg class="chart members"[^>]*>[\s\S]*?<rect[^>]*width="360"/, 'the first member has the longest bar');
    assert.match(dom, /by router MAC 120, by the flow's AS 7, by the route table 3; unattributed 2/);
    assert.match(dom, /<td class="num" title="600 active hosts">15(\.0)?%<\/td>/, 'the share of active hosts');
    assert.match(
      dom,
      /<tr data-member-asn="65002">[\s\S]*?<svg class="spark"[^>]*aria-label="hourly profile: busiest hour 23:00 UTC"/,
      'the hourly profile per member',
    );
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
});
