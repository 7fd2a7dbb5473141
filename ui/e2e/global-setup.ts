// Fail once, early and clearly, when what the browser tests need is missing.
import { existsSync } from 'node:fs';
import { BIN, UI_DIST } from './demo';

export default function globalSetup(): void {
  const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
  const missing: string[] = [];
  if (!existsSync(BIN)) missing.push(`the nuvosync binary ${BIN} — run \`cargo build -p nuvosync --features demo\` (or set NUVOSYNC_BIN)`);
  if (!existsSync(`${UI_DIST}/index.html`)) missing.push(`the built UI ${UI_DIST} — run \`npm run build\` (npm run e2e does)`);
  if (!existsSync(chromium)) missing.push(`Chromium at ${chromium} — run \`apt-get install chromium\` (or set CHROMIUM); no browser is downloaded`);
  if (missing.length) throw new Error(`cannot run the browser tests; missing:\n  - ${missing.join('\n  - ')}`);
}
