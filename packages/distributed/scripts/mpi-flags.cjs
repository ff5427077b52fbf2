#!/usr/bin/env node
// Finds how to compile and link against the system MPI (Open MPI or MPICH) and prints it, for binding.gyp and for
// scripts/build-addon.cjs. Sources, in order: $LONGTAIL_MPICC (a compiler wrapper), `mpicc` (Open MPI's
// `-showme:compile` / `-showme:link`, else MPICH's `-show`), then pkg-config (`ompi`, `mpich`, `mpi`).
//
//   node scripts/mpi-flags.cjs              JSON: { source, includeDirs, libraryDirs, libraries, otherFlags }
//   node scripts/mpi-flags.cjs include_dirs  the include directories, one per line (for <!@(...) in binding.gyp)
//   node scripts/mpi-flags.cjs libraries     -L / -l / -Wl,-rpath flags for linking
//   node scripts/mpi-flags.cjs cflags        other compile flags (-pthread, -D...)
// Exits 1 (printing why on stderr) when no MPI development files are found.
'use strict';
const { spawnSync } = require('node:child_process');

function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if (result.error || result.status !== 0) return undefined;
  return result.stdout.trim();
}

/** Splits a command line into words, honouring simple quotes. */
function words(text) {
  return (text.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? []).map((word) => word.replace(/^["']|["']$/g, ''));
}

function parse(tokens, source) {
  const flags = { source, includeDirs: [], libraryDirs: [], libraries: [], otherFlags: [] };
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index];
    if (token === '-I' || token === '-L' || token === '-l') {
      tokens[index + 1] = token + tokens[index + 1];
      continue;
    }
    if (token.startsWith('-I')) flags.includeDirs.push(token.slice(2));
    else if (token.startsWith('-L')) flags.libraryDirs.push(token.slice(2));
    else if (token.startsWith('-l')) flags.libraries.push(token);
    else if (token.startsWith('-Wl,') || token === '-pthread' || token.startsWith('-D')) flags.otherFlags.push(token);
  }
  return flags;
}

function findMpi() {
  const wrapper = process.env.LONGTAIL_MPICC || 'mpicc';
  const compile = run(wrapper, ['-showme:compile']);
  const link = run(wrapper, ['-showme:link']);
  if (compile !== undefined && link !== undefined) return parse(words(`${compile} ${link}`), `${wrapper} -showme (Open MPI)`);
  const show = run(wrapper, ['-show']);
  if (show !== undefined) return parse(words(show).slice(1), `${wrapper} -show (MPICH)`);
  for (const name of ['ompi', 'mpich', 'mpi']) {
    const cflags = run('pkg-config', ['--cflags', name]);
    const libs = run('pkg-config', ['--libs', name]);
    if (cflags !== undefined && libs !== undefined) return parse(words(`${cflags} ${libs}`), `pkg-config ${name}`);
  }
  return undefined;
}

module.exports = { findMpi };

if (require.main === module) {
  const flags = findMpi();
  if (!flags) {
    console.error('no MPI found: neither `mpicc` nor pkg-config (ompi, mpich) is available');
    process.exit(1);
  }
  const mode = process.argv[2];
  if (mode === 'include_dirs') console.log(flags.includeDirs.join('\n'));
  else if (mode === 'libraries') {
    const libraries = flags.libraries.length > 0 ? flags.libraries : ['-lmpi'];
    console.log([...flags.libraryDirs.flatMap((dir) => [`-L${dir}`, `-Wl,-rpath,${dir}`]), ...libraries, ...flags.otherFlags.filter((f) => f.startsWith('-Wl,'))].join('\n'));
  } else if (mode === 'cflags') console.log(flags.otherFlags.filter((f) => !f.startsWith('-Wl,')).join('\n'));
  else console.log(JSON.stringify(flags));
}
