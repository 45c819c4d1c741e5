import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from './admin-api-openapi.ts';

/**
 * Writes the admin API's OpenAPI document: `node --import tsx functions/openapi-print.ts [file]`,
 * by default to docs/admin-api.openapi.json; `-` prints it instead.
 */
const target = process.argv[2] ?? fileURLToPath(new URL('../docs/admin-api.openapi.json', import.meta.url));
const text = `${JSON.stringify(openApiDocument(), null, 2)}\n`;
if (target === '-') process.stdout.write(text);
else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
