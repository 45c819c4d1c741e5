#!/usr/bin/env node
// The package `bin`: loads the TypeScript CLI through tsx so no build step stands between a
// clone and a working command.
import { register } from 'tsx/esm/api';

// The AWS SDK warns at every start on Node 20 (supported until 2027); the warning would break
// the CLI's one-line error output, and Lambda runs Node 24 anyway.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
