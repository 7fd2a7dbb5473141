// Copy the screenshots the browser tests took (../test-artifacts/screenshots) into
// docs/screenshots, where the current ones are committed.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const from = join(root, 'test-artifacts/screenshots');
const to = join(root, 'docs/screenshots');
mkdirSync(to, { recursive: true });
const files = readdirSync(from).filter((f) => f.endsWith('.png'));
for (const f of files) copyFileSync(join(from, f), join(to, f));
console.log(`copied ${files.length} screenshots to ${to}`);
