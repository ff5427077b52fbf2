// A static file server for the page, and nothing else: serves this directory (index.html, style.css, dist/, model/)
// on the loopback interface. Any static server works as well, e.g. `python3 -m http.server -d examples/browser`.
//   node examples/browser/serve.mjs [--port 8080] [--host 127.0.0.1]     (--port 0: a free port)
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Starts a static server for `root` (default: this directory) on `host:port`; resolves to `{ server, url }`.
 * GET and HEAD only; paths are confined to `root` (no `..`, no dot files); `/` is index.html.
 */
export async function startServer({ root = path.dirname(fileURLToPath(import.meta.url)), port = 8080, host = '127.0.0.1' } = {}) {
  const base = path.resolve(root);
  const server = createServer((request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      response.writeHead(400).end();
      return;
    }
    if (pathname.endsWith('/')) pathname += 'index.html';
    const file = path.resolve(base, `.${pathname}`);
    const inside = file.startsWith(base + path.sep) && !path.relative(base, file).split(path.sep).some((part) => part.startsWith('.'));
    let stats;
    try {
      stats = inside ? statSync(file) : undefined;
    } catch {
      stats = undefined;
    }
    if (!stats?.isFile()) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    response.writeHead(200, {
      'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': stats.size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/` };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const option = (name, fallback) => {
    const index = process.argv.indexOf(`--${name}`);
    return index > 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1] : fallback;
  };
  const port = Number(option('port', '8080'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve.mjs: --port must be an integer 0–65535, got ${option('port', '')}`);
    process.exit(2);
  }
  const { url } = await startServer({ port, host: option('host', '127.0.0.1') });
  console.log(`serving ${path.dirname(fileURLToPath(import.meta.url))} at ${url} (Ctrl-C stops)`);
}
