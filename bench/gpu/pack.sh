#!/usr/bin/env bash
# Builds the self-contained GPU benchmark bundle (default .gpu-bench/ at the repository root, git-ignored) for a bare
# x86-64 NVIDIA machine with no Node.js and no network: this machine's Node binary (xz), an esbuild bundle of
# bench/gpu/bench-entry.mjs (tfjs, @longtail/backend, @longtail/backbones, @longtail/gcl-loss inlined), the `webgpu`
# package (Dawn for Node; index.js, package.json, dist/linux-x64/dawn.node as xz), the Vulkan loader (Debian's
# libvulkan1 .deb), a fallback libstdc++ for dawn.node, the PyTorch reference and run.sh. See bench/gpu/README.md.
#
# Usage (from the repository root, after `npx turbo run build`):  bash bench/gpu/pack.sh [OUTPUT_DIRECTORY]
#   or `npm run bench:gpu`.  Environment: LIMIT_MIB (default 64).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${1:-.gpu-bench}"
limit_mib="${LIMIT_MIB:-64}"
here="bench/gpu"

say() { printf 'pack: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "packs Linux x86-64 binaries; this is $(uname -s)-$(uname -m)"
command -v xz >/dev/null || die "xz not found (Debian: apt-get install xz-utils)"
node_binary="$(command -v node)" || die "node not found"
node_binary="$(readlink -f "$node_binary")"
esbuild="node_modules/esbuild/bin/esbuild"
[ -x "$esbuild" ] || die "$esbuild not found (npm ci)"
webgpu="node_modules/webgpu"
[ -f "$webgpu/dist/linux-x64/dawn.node" ] || die "$webgpu/dist/linux-x64/dawn.node not found (the optional dependency webgpu of @longtail/backend)"

# The bundle inlines the packages' dist/ builds: they must exist and should be newer than their sources.
for package in backend backbones gcl-loss; do
  dist="packages/$package/dist/index.js"
  [ -f "$dist" ] || die "$dist missing: run \`npx turbo run build\` first"
  newer="$(find "packages/$package/src" -newer "$dist" -type f | head -1)"
  [ -z "$newer" ] || say "warning: $newer is newer than $dist (stale build? run \`npx turbo run build\`)"
done

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# Keep the cached node.xz (slow to make) if it was made from the same binary; remove everything else.
find "$out" -mindepth 1 -maxdepth 1 ! -name node.xz ! -name node.xz.stamp -exec rm -rf {} +

# 1. Node: xz -9 of this machine's binary (needs glibc ≥ 2.28 on the device, like the official builds).
stamp="$(printf '%s %s %s %s' "$node_binary" "$(stat -c '%s %Y' "$node_binary")" "$("$node_binary" --version)" "$(xz --version | head -1)")"
if [ -f "$out/node.xz" ] && [ "$(cat "$out/node.xz.stamp" 2>/dev/null)" = "$stamp" ]; then
  say "node.xz: reusing ($("$node_binary" --version))"
else
  say "node.xz: compressing $node_binary ($("$node_binary" --version)), about a minute"
  xz -9 -T0 -c "$node_binary" >"$out/node.xz.partial"
  mv "$out/node.xz.partial" "$out/node.xz"
  printf '%s' "$stamp" >"$out/node.xz.stamp"
fi

# 2. The benchmark, bundled. `webgpu` stays external: it is imported by a variable specifier in @longtail/backend and
# resolved at run time from node_modules/webgpu beside bench.mjs. Optional backends (tfjs-node, backend-native) are
# imported the same way and simply fail to load there. CommonJS dependencies get a real `require`.
say "bench.mjs: esbuild"
"$esbuild" "$here/bench-entry.mjs" --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --minify-whitespace --minify-syntax --legal-comments=none --log-level=warning \
  --metafile="$out/.esbuild-meta.json" \
  --banner:js="import { createRequire as __longtailCreateRequire } from 'node:module'; const require = __longtailCreateRequire(import.meta.url);" \
  --outfile="$out/bench.mjs"
# One copy of tfjs-core, or kernels would register on an engine the models do not use.
cores="$(node -e "const m=require(process.argv[1]); const s=new Set(Object.keys(m.inputs).filter(p=>/@tensorflow\/tfjs-core\/package\.json$|@tensorflow\/tfjs-core\/dist\/tf-core\.node\.js$|@tensorflow\/tfjs-core\/dist\/index\.js$/.test(p)).map(p=>p.replace(/\/dist\/.*$/,''))); console.log([...s].join(' '))" "$out/.esbuild-meta.json")"
[ "$(wc -w <<<"$cores")" -le 1 ] || die "the bundle holds several tfjs-core copies: $cores"
rm -f "$out/.esbuild-meta.json"

# 3. Dawn for Node: only what index.js loads (it imports node builtins only, so no runtime dependencies).
mkdir -p "$out/node_modules/webgpu/dist/linux-x64"
cp "$webgpu/index.js" "$webgpu/package.json" "$out/node_modules/webgpu/"
[ -f "$webgpu/LICENSE.md" ] && cp "$webgpu/LICENSE.md" "$out/node_modules/webgpu/"
external="$(node -e "
  const source = require('fs').readFileSync(process.argv[1], 'utf8');
  const { builtinModules } = require('module');
  const names = [...source.matchAll(/(?:from\\s*|require\\(\\s*|import\\(\\s*)['\"]([^'\"]+)['\"]/g)].map((m) => m[1]);
  console.log(names.filter((n) => !n.startsWith('.') && !n.startsWith('node:') && !builtinModules.includes(n)).join(' '));
" "$webgpu/index.js")"
[ -z "$external" ] || die "$webgpu/index.js imports packages at run time ($external): copy them into the bundle too"
say "dawn.node.xz: compressing"
xz -9 -T0 -c "$webgpu/dist/linux-x64/dawn.node" >"$out/node_modules/webgpu/dist/linux-x64/dawn.node.xz"

# 4. The Vulkan loader (libvulkan.so.1), used on the device only when it has none: Debian's .deb, else the installed files.
if (cd "$out" && apt-get download libvulkan1 >/dev/null 2>"$out/.apt.log"); then
  say "vulkan: $(cd "$out" && ls libvulkan1*.deb)"
else
  cached="$(ls /var/cache/apt/archives/libvulkan1_*.deb 2>/dev/null | tail -1 || true)"
  if [ -n "$cached" ]; then
    cp "$cached" "$out/"
    say "vulkan: apt-get download failed, copied $cached"
  elif ls /usr/lib/x86_64-linux-gnu/libvulkan.so.1* >/dev/null 2>&1; then
    mkdir -p "$out/.vk/usr/lib/x86_64-linux-gnu"
    cp -P /usr/lib/x86_64-linux-gnu/libvulkan.so.1* "$out/.vk/usr/lib/x86_64-linux-gnu/"
    tar -C "$out/.vk" -cJf "$out/libvulkan1-installed.tar.xz" usr
    rm -rf "$out/.vk"
    say "vulkan: apt-get download failed ($(tail -1 "$out/.apt.log")), packed the installed loader instead"
  else
    say "warning: no Vulkan loader packed (apt-get download libvulkan1 failed and none is installed)"
  fi
fi
rm -f "$out/.apt.log"

# 5. dawn.node needs GLIBCXX_3.4.30 (GCC 12's libstdc++); carried for devices with an older one.
libstdcxx="$(readlink -f "$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ { print $NF; exit }')")"
if [ -f "$libstdcxx" ]; then
  mkdir -p "$out/lib"
  xz -9 -c "$libstdcxx" >"$out/lib/libstdc++.so.6.xz"
fi

# 6. PyTorch reference, run script, README, manifest.
cp "$here/torch_reference.py" bench/resnet32_reference.py "$here/run.sh" "$here/README.md" "$out/"
chmod +x "$out/run.sh"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git status --porcelain 2>/dev/null | head -1)"
cat >"$out/manifest.json" <<EOF
{"kind":"gpu-bench-bundle","created":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","commit":"$commit","dirty":$([ -n "$dirty" ] && echo true || echo false),"node":"$("$node_binary" --version)","webgpu":"$(node -p "require('./$webgpu/package.json').version")","tfjs":"$(node -p "require('./node_modules/@tensorflow/tfjs/package.json').version")","packedOn":"$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}")"}
EOF

bytes="$(du -sb "$out" | cut -f1)"
(cd "$out" && find . -type f ! -name node.xz.stamp -printf '%s\t%p\n' | sort -rn | awk -F'\t' '{ printf "pack:   %8.2f MiB  %s\n", $1 / 1048576, $2 }' >&2)
mib="$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')"
if [ "$bytes" -ge $((limit_mib * 1048576)) ]; then
  die "bundle is $mib MiB, over the ${limit_mib} MiB limit"
fi
say "bundle: $out, $mib MiB (limit $limit_mib MiB)"
printf '{"kind":"gpu-bench-pack","bundle":"%s","bytes":%s,"mib":%s,"limitMiB":%s}\n' "$out" "$bytes" "$mib" "$limit_mib"
