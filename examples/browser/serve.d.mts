import type { Server } from 'node:http';

/** Starts the static server of serve.mjs for `root` (default: examples/browser) on `host:port` (default 127.0.0.1:8080). */
export function startServer(options?: { root?: string; port?: number; host?: string }): Promise<{ server: Server; url: string }>;
