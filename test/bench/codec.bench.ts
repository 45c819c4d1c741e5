// npm run bench:codec — encode and decode operations per second for every content format, on
// the pinned Security instance (/0/1) and on a whole Security object of three instances (/0).
import { cpus } from 'node:os';
import { ContentFormat, contentFormatName } from '../../shared/content/format.ts';
import { decodeContent, encodeContent } from '../../shared/content/registry.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import { PINNED_SECURITY, PINNED_SECURITY_PATH } from '../fixtures/pinned-instances.ts';

const DURATION_MS = Number(process.env.BENCH_MS ?? 400);

function opsPerSecond(work: () => unknown): number {
  for (let warm = 0; warm < 2000; warm += 1) work();
  let operations = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < DURATION_MS) {
    for (let batch = 0; batch < 200; batch += 1) work();
    operations += 200;
    elapsed = performance.now() - start;
  }
  return (operations * 1000) / elapsed;
}

const wholeObject: ContentTree = [
  { id: 0, instances: [0, 1, 2].map((id) => ({ ...PINNED_SECURITY[0]!.instances[0]!, id })) },
];
const cases: { name: string; tree: ContentTree; path: LwM2MPath }[] = [
  { name: 'Security /0/1', tree: PINNED_SECURITY, path: PINNED_SECURITY_PATH },
  { name: 'Security /0 x3', tree: wholeObject, path: { objectId: 0 } },
];
const formats = [ContentFormat.TLV, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR, ContentFormat.LWM2M_JSON];

console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, ${DURATION_MS} ms per cell`);
console.log('| payload | format | bytes | encode ops/s | decode ops/s |');
console.log('|---|---|---:|---:|---:|');
for (const { name, tree, path } of cases) {
  for (const format of formats) {
    const bytes = encodeContent(format, tree, path);
    const encode = opsPerSecond(() => encodeContent(format, tree, path));
    const decode = opsPerSecond(() => decodeContent(format, bytes, path));
    const row = [name, `${contentFormatName(format)} (${format})`, bytes.length, Math.round(encode).toLocaleString('en'), Math.round(decode).toLocaleString('en')];
    console.log(`| ${row.join(' | ')} |`);
  }
}
