// The dynalite worker's entry. A worker does not inherit the tsx loader its parent registered
// (through `--import tsx` on Node 20, or cli/bin.mjs's `register()`), so it registers its own
// before importing TypeScript.
import { register } from 'tsx/esm/api';

register();
const { runDynaliteThread } = await import('./dynalite-thread.ts');
await runDynaliteThread();
