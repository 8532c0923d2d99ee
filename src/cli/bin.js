#!/usr/bin/env node
// `keymaster` CLI entry: loads the TypeScript CLI through tsx, so `npx keymaster …` works from a checkout.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./main.ts');
process.exit(await runCli(process.argv.slice(2)));
