#!/usr/bin/env node
import { runCli } from './cli-main.js';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`longtail: error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
