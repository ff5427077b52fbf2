#!/usr/bin/env node
// The `longtail` command. A stable file committed with the sources (npm links a workspace bin only when its target
// exists at install time, and dist/ is built afterwards); the command itself is dist/cli.js.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('longtail: error: @longtail/trainer is not built (run `npm run build` at the repository root)\n');
  process.exitCode = 1;
} else {
  await import(cli.href);
}
