import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

// Every ```js / ```ts block in the READMEs and docs is run as a program, its imports from `@longtail/*` must name
// exports that exist, and ```ts blocks must type-check against the packages' declarations: the documentation
// cannot drift from the code. The line before a fence may say otherwise:
//   <!-- example: not run — reason -->       checked but not run (it needs data, a network or a browser);
//   <!-- example: not a program — reason -->  none of it (signatures, or a fragment continuing another block).

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const marker = /^<!--\s*example:\s*(not run|not a program)\s*[—-]\s*(\S.*?)\s*-->$/;

interface Example {
  file: string;
  line: number;
  language: 'js' | 'ts';
  code: string;
  /** Absent: type-checked and run. */
  skip?: { kind: 'not run' | 'not a program'; reason: string };
}

function documentationFiles(): string[] {
  const packageReadmes = readdirSync(path.join(repositoryRoot, 'packages')).map((name) => path.join('packages', name, 'README.md'));
  const docs = readdirSync(path.join(repositoryRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name));
  return ['README.md', 'examples/README.md', ...packageReadmes, ...docs];
}

function examplesIn(file: string): Example[] {
  const lines = readFileSync(path.join(repositoryRoot, file), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    const fence = /^```(\w*)\s*$/.exec(lines[index]);
    if (!fence) continue;
    const end = lines.findIndex((line, position) => position > index && line.startsWith('```'));
    if (end < 0) throw new Error(`${file}:${index + 1}: unclosed code fence`);
    const language = fence[1];
    if (language === 'js' || language === 'ts') {
      let previous = index - 1;
      while (previous >= 0 && lines[previous].trim() === '') previous -= 1;
      const found = previous >= 0 ? marker.exec(lines[previous].trim()) : null;
      const skip = found ? { kind: found[1] as 'not run' | 'not a program', reason: found[2] } : undefined;
      examples.push({ file, line: index + 1, language, code: lines.slice(index + 1, end).join('\n'), skip });
    }
    index = end;
  }
  return examples;
}

/**
 * The run-time names an API listing documents. A listing line holds one or more entries separated by `,`, `/` or
 * `;` (`loadFashionMnist(…) / loadMnist(…)`, `CIFAR_MEAN, CIFAR_STD`); the name is the identifier an entry starts
 * with, after `class` or `new`. Parameters, braces and type annotations (after a `:`) are skipped; so are indented
 * continuation lines, comments and `interface` / `type` lines, which are compile-time only and left to the
 * type-check.
 */
function listedNames(code: string): string[] {
  const names = new Set<string>();
  for (const rawLine of code.split('\n')) {
    if (/^\s/.test(rawLine)) continue;
    const line = rawLine.replace(/\/\/.*$/, '');
    if (/^(interface|type)\s/.test(line)) continue;
    let depth = 0;
    let entryStart = true;
    for (const [token] of line.matchAll(/[A-Za-z_$][\w$]*|[(){}<>[\]:,/;=]/g)) {
      if ('({[<'.includes(token)) depth += 1;
      else if (')}]>'.includes(token)) depth -= 1;
      else if (depth > 0) continue;
      else if (',/;'.includes(token)) entryStart = true;
      else if (token === ':' || token === '=') entryStart = false;
      else if (entryStart && ['abstract', 'class', 'new'].includes(token)) continue;
      else if (entryStart) {
        names.add(token);
        entryStart = false;
      }
    }
  }
  return [...names];
}

/**
 * The names the prose of a `## API` section documents as exports: code spans in `###` headings and in the first cell
 * of table rows (outside parentheses), and the run of code spans a list item starts with. Fenced blocks are left to
 * {@link listedNames}.
 */
function apiEntries(markdown: string): Array<{ line: number; name: string }> {
  const entries: Array<{ line: number; name: string }> = [];
  const lines = markdown.split('\n');
  let inApi = false;
  let inFence = false;
  let item: { line: number; text: string } | undefined;
  const spansOf = (text: string, lineNumber: number) => {
    let depth = 0;
    const parts = text.split('`');
    parts.forEach((part, index) => {
      if (index % 2 === 0) {
        for (const character of part) depth += character === '(' ? 1 : character === ')' ? -1 : 0;
        return;
      }
      const name = /^[A-Za-z_$][\w$]*/.exec(part)?.[0];
      if (depth === 0 && name !== undefined) entries.push({ line: lineNumber, name });
    });
  };
  // A list entry is a run of code spans at the start of the item, separated by , ; . and parenthesised remarks;
  // the first other text (a description, or prose such as "`labels` is an int32 …") ends it.
  const entriesOfItem = (text: string, lineNumber: number) => {
    let depth = 0;
    let pending: string | undefined;
    const parts = text.split('`');
    for (let index = 0; index < parts.length; index += 1) {
      if (index % 2 === 1) {
        if (depth === 0) pending = /^[A-Za-z_$][\w$]*/.exec(parts[index])?.[0];
        continue;
      }
      let outside = '';
      for (const character of parts[index]) {
        if (character === '(') depth += 1;
        else if (character === ')') depth -= 1;
        else if (depth === 0) outside += character;
      }
      const separatorsOnly = /^[\s,;.]*$/.test(outside);
      // A description after an em dash still documents the span before it.
      if (pending !== undefined && (separatorsOnly || /^\s*—/.test(outside))) entries.push({ line: lineNumber, name: pending });
      pending = undefined;
      if (!separatorsOnly) return;
    }
  };
  const flushItem = () => {
    if (item) entriesOfItem(item.text, item.line);
    item = undefined;
  };
  lines.forEach((line, index) => {
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) return;
    if (/^## /.test(line)) {
      flushItem();
      inApi = /^## API\b/.test(line);
      return;
    }
    if (!inApi) return;
    if (/^- /.test(line)) {
      flushItem();
      item = { line: index + 1, text: line.slice(2) };
    } else if (item && /^\s+\S/.test(line)) {
      item.text += ` ${line.trim()}`;
    } else {
      flushItem();
      if (/^### /.test(line)) spansOf(line.replace(/→.*$/, ''), index + 1);
      else if (/^\| `/.test(line)) spansOf(line.split('|')[1], index + 1);
    }
  });
  flushItem();
  return entries;
}

const examples = documentationFiles().flatMap(examplesIn);
const runnable = examples.filter((example) => example.skip === undefined);
const programs = examples.filter((example) => example.skip?.kind !== 'not a program');
const workDirectories: string[] = [];
afterAll(() => workDirectories.forEach((directory) => rmSync(directory, { recursive: true, force: true })));

interface DocumentedName {
  where: string;
  name: string;
}

/**
 * The API of `@longtail/<name>` on both sides: its run-time exports, and the names `docs/<name>.md` documents in
 * signature blocks ({@link listedNames}) and in the prose of its API section ({@link apiEntries}).
 */
const packageApis = new Map<string, Promise<{ exported: Set<string>; listings: DocumentedName[][]; prose: DocumentedName[] }>>();
function packageApi(name: string) {
  let api = packageApis.get(name);
  if (api === undefined) {
    const file = `docs/${name}.md`;
    api = (async () => ({
      exported: new Set(Object.keys(await import(/* @vite-ignore */ `@longtail/${name}`))),
      listings: examples
        .filter((example) => example.file === file && example.skip?.reason === 'signatures')
        .map((example) => listedNames(example.code).map((listed) => ({ where: `${file}:${example.line}`, name: listed }))),
      prose: apiEntries(readFileSync(path.join(repositoryRoot, file), 'utf8')).map((entry) => ({ where: `${file}:${entry.line}`, name: entry.name })),
    }))();
    packageApis.set(name, api);
  }
  return api;
}
const packageNames = readdirSync(path.join(repositoryRoot, 'packages'));

/** A fresh directory inside the repository, so that `@longtail/*` and `@tensorflow/*` resolve to the workspace. */
function workDirectory(): string {
  const directory = mkdtempSync(path.join(repositoryRoot, 'examples', '.example-run-'));
  workDirectories.push(directory);
  return directory;
}

describe('documentation: code examples and API sections', () => {
  it('are found, and most of them run (a skip needs a stated reason)', () => {
    expect(examples.length).toBeGreaterThanOrEqual(15);
    expect(runnable.length).toBeGreaterThanOrEqual(8);
  });

  it('import only names that the @longtail packages export', async () => {
    const missing: string[] = [];
    for (const example of programs) {
      for (const [, names, specifier] of example.code.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(@longtail\/[^']+)'/g)) {
        const exported = Object.keys(await import(/* @vite-ignore */ specifier));
        for (const name of names.split(',').map((part) => part.trim().split(/\s+as\s+/)[0]).filter(Boolean)) {
          if (!name.startsWith('type ') && !exported.includes(name)) missing.push(`${example.file}:${example.line}: ${specifier} has no export ${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('API listings (signature blocks in docs/<package>.md) name only exports of that package', async () => {
    const missing: string[] = [];
    let listingCount = 0;
    for (const name of packageNames) {
      const { exported, listings } = await packageApi(name);
      listingCount += listings.length;
      for (const listing of listings) {
        expect(listing.length, `a signature block of docs/${name}.md lists no names`).toBeGreaterThan(0);
        for (const entry of listing) if (!exported.has(entry.name)) missing.push(`${entry.where}: @longtail/${name} has no export ${entry.name}`);
      }
    }
    expect(listingCount).toBeGreaterThanOrEqual(5);
    expect(missing).toEqual([]);
  });

  it('API sections (headings, list entries, first table cells of docs/<package>.md) name only exports', async () => {
    const missing: string[] = [];
    let checked = 0;
    for (const name of packageNames) {
      const { exported, prose } = await packageApi(name);
      checked += prose.length;
      for (const entry of prose) if (!exported.has(entry.name)) missing.push(`${entry.where}: @longtail/${name} has no export ${entry.name}`);
    }
    expect(checked).toBeGreaterThanOrEqual(60);
    expect(missing).toEqual([]);
  });

  it('every run-time export of a package is documented in the API section of docs/<package>.md', async () => {
    const undocumented: string[] = [];
    for (const name of packageNames) {
      const { exported, listings, prose } = await packageApi(name);
      const documented = new Set([...listings.flat(), ...prose].map((entry) => entry.name));
      expect(exported.size).toBeGreaterThan(0);
      for (const exportName of exported) if (!documented.has(exportName)) undocumented.push(`@longtail/${name}: ${exportName} (docs/${name}.md)`);
    }
    expect(undocumented).toEqual([]);
  });

  it('```ts blocks type-check against the built packages (TypeScript users copy them too)', () => {
    const directory = workDirectory();
    const names = programs.filter((example) => example.language === 'ts').map((example, index) => {
      const name = `example-${index}.ts`;
      writeFileSync(path.join(directory, name), `${example.code}\nexport {};\n`);
      return { name, where: `${example.file}:${example.line}` };
    });
    const compilerOptions = {
      target: 'ES2022',
      module: 'ESNext',
      moduleResolution: 'Bundler',
      lib: ['ES2022', 'DOM'],
      types: ['node'],
      strict: true,
      skipLibCheck: true,
      noEmit: true,
    };
    writeFileSync(path.join(directory, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: names.map(({ name }) => name) }));
    const typescript = path.join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = spawnSync(process.execPath, [typescript, '-p', 'tsconfig.json'], { cwd: directory, encoding: 'utf8' });
    // Name the documentation file and line in place of the generated file name.
    const report = names.reduce((text, { name, where }) => text.replaceAll(name, where), run.stdout + run.stderr);
    expect(run.status, report).toBe(0);
  }, 120_000);

  it.each(runnable.map((example) => [`${example.file}:${example.line}`, example] as const))(
    '%s runs',
    (_name, example) => {
      // The example's relative paths (saved models, data/) land in its own directory.
      const directory = workDirectory();
      const code =
        example.language === 'ts' ? transformSync(example.code, { loader: 'ts', format: 'esm', target: 'es2022' }).code : example.code;
      const file = path.join(directory, 'example.mjs');
      writeFileSync(file, code);
      const run = spawnSync(process.execPath, [file], { cwd: directory, encoding: 'utf8', timeout: 240_000 });
      expect(run.status, `${example.file}:${example.line} exited with ${run.status ?? run.signal}\n${run.stderr}`).toBe(0);
      if (example.code.includes('console.log')) expect(run.stdout.trim().length).toBeGreaterThan(0);
    },
    300_000,
  );
});
