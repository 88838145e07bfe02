// Renders web/public/icons/icon.svg into the PNG icons the PWA manifest lists, with Debian's
// Chromium. Run after changing the SVG: npx tsx web/scripts/render-icons.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const dir = join(import.meta.dirname, '..', 'public', 'icons');
const svg = readFileSync(join(dir, 'icon.svg'), 'utf8');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  const render = async (size: number, file: string, inset: number) => {
    await page.setViewportSize({ width: size, height: size });
    const pad = Math.round(size * inset);
    await page.setContent(
      `<body style="margin:0;background:${inset > 0 ? '#0b4f9c' : 'transparent'}"><div style="padding:${pad}px;width:${size}px;height:${size}px;box-sizing:border-box">${svg.replace('<svg ', '<svg width="100%" height="100%" ')}</div></body>`,
    );
    await page.screenshot({ path: join(dir, file), omitBackground: inset === 0 });
  };
  await render(192, 'icon-192.png', 0);
  await render(512, 'icon-512.png', 0);
  // Maskable: the platform may crop to a circle, so the mark stays inside the central 80 %.
  await render(512, 'icon-maskable-512.png', 0.1);
} finally {
  await browser.close();
}
