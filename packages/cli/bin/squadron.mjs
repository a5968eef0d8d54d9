#!/usr/bin/env node
// Services and the platform are written in TypeScript; tsx loads them without a build step.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./resolve-hooks.mjs', import.meta.url);
const { main } = await import('../src/main.ts');
await main(process.argv);
