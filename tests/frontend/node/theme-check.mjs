// Runs Shopify's theme-check on the theme app extension; exits 1 when it reports an error.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { themeCheckRun } from '@shopify/theme-check-node';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.argv[2] ?? path.join(here, '../../../frontend/extensions/relais-theme'));
const { offenses } = await themeCheckRun(root, path.join(root, '.theme-check.yml'), () => {});
const SEVERITY = ['error', 'warning', 'info'];
for (const o of offenses) {
  const where = `${path.relative(root, fileURLToPath(o.uri))}:${o.start.line + 1}`;
  console.log(`${SEVERITY[o.severity] ?? o.severity} ${o.check} ${where} ${o.message}`);
}
const errors = offenses.filter((o) => o.severity === 0).length;
console.log(`theme-check: ${errors} error(s), ${offenses.length - errors} other offense(s)`);
process.exit(errors ? 1 : 0);
