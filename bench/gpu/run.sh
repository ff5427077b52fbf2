#!/usr/bin/env bash
# Runs the GPU benchmark from a bundle made by bench/gpu/pack.sh, on a machine with no Node.js and no network:
# unpacks Node and Dawn to a work folder, sets up Vulkan (the machine's loader, else the carried libvulkan1 .deb;
# the NVIDIA ICD), runs longtail on tfjs-backend-webgpu, then the PyTorch reference, then prints ratios.
# Output: JSON lines on stdout (setup, one per configuration and engine, summary); progress on stderr.
# When $OUT is set (remote runners), the JSON lines are also written to $OUT/gpu-bench.jsonl.
#
# Usage: bash run.sh [--steps N] [--warmup N] [--configs a,b] [--resnet50-size N] [--max-batch N]
#                    [--swiftshader] [--torch-device cpu] [--python PATH] [--no-torch] [--no-node]
#                    [--config-timeout SECONDS] [--no-tf32] [--carried-vulkan (use the carried loader even if one is installed)]
# Environment: LONGTAIL_GPU_BENCH_SWIFTSHADER=1 (as --swiftshader), PYTHON (as --python), WORK (unpack folder,
#              default ${TMPDIR:-/tmp}/longtail-gpu-bench).
set -uo pipefail

bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
steps=20
warmup=3
configs="resnet32-train,resnet32-infer,resnet50-train"
resnet50_size=""
max_batch=""
swiftshader="${LONGTAIL_GPU_BENCH_SWIFTSHADER:-0}"
torch_device="cuda"
python="${PYTHON:-python3}"
run_torch=1
run_node=1
config_timeout=300
carried_vulkan="${LONGTAIL_GPU_BENCH_CARRIED_VULKAN:-0}"
torch_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --configs) configs="$2"; shift 2 ;;
    --resnet50-size) resnet50_size="$2"; shift 2 ;;
    --max-batch) max_batch="$2"; shift 2 ;;
    --swiftshader) swiftshader=1; shift ;;
    --torch-device) torch_device="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --no-torch) run_torch=0; shift ;;
    --no-node) run_node=0; shift ;;
    --config-timeout) config_timeout="$2"; shift 2 ;;
    --no-tf32) torch_extra+=(--no-tf32); shift ;;
    --carried-vulkan) carried_vulkan=1; shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done

work="${WORK:-${TMPDIR:-/tmp}/longtail-gpu-bench}"
results="$work/results.jsonl"
mkdir -p "$work"
: >"$results"
log() { printf 'run.sh: %s\n' "$*" >&2; }
emit() { printf '%s\n' "$1" | tee -a "$results"; }
json_string() { # a JSON string literal of $1 (python3 is on the device; sed fallback)
  if command -v "$python" >/dev/null 2>&1; then
    "$python" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
  else
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\n' ' ')"
  fi
}
# xz -d, else Python's lzma (always in CPython) for machines without xz-utils.
unxz_to() {
  if command -v xz >/dev/null 2>&1; then
    xz -d -c "$1" >"$2"
  else
    "$python" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

# 1. Node and Dawn.
setup_notes=()
node="$work/node"
if [ "$run_node" = 1 ]; then
  if [ ! -x "$node" ] || [ "$bundle/node.xz" -nt "$node" ]; then
    log "unpacking node to $node"
    unxz_to "$bundle/node.xz" "$node.partial" && chmod +x "$node.partial" && mv "$node.partial" "$node"
  fi
  mkdir -p "$work/node_modules/webgpu/dist/linux-x64"
  cp "$bundle/bench.mjs" "$work/bench.mjs"
  cp "$bundle/node_modules/webgpu/index.js" "$bundle/node_modules/webgpu/package.json" "$work/node_modules/webgpu/"
  dawn="$work/node_modules/webgpu/dist/linux-x64/dawn.node"
  if [ ! -f "$dawn" ] || [ "$bundle/node_modules/webgpu/dist/linux-x64/dawn.node.xz" -nt "$dawn" ]; then
    log "unpacking dawn.node"
    unxz_to "$bundle/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$dawn.partial" && mv "$dawn.partial" "$dawn"
  fi
  # dawn.node needs GLIBCXX_3.4.30; use the carried libstdc++ where the machine's is older.
  system_libstdcxx="$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ { print $NF; exit }')"
  if [ -f "$bundle/lib/libstdc++.so.6.xz" ] && ! { [ -n "$system_libstdcxx" ] && grep -qa 'GLIBCXX_3\.4\.30' "$system_libstdcxx"; }; then
    mkdir -p "$work/lib"
    unxz_to "$bundle/lib/libstdc++.so.6.xz" "$work/lib/libstdc++.so.6"
    export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    setup_notes+=("carried libstdc++ (system: ${system_libstdcxx:-none})")
  fi
fi

# 2. Vulkan: the loader, then the driver manifest (ICD).
vulkan_loader="system"
if [ "$carried_vulkan" = 1 ] || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  vk="$work/vk"
  deb="$(ls "$bundle"/libvulkan1*.deb 2>/dev/null | head -1)"
  rm -rf "$vk" && mkdir -p "$vk"
  if [ -n "$deb" ] && command -v dpkg >/dev/null 2>&1 && dpkg -x "$deb" "$vk" 2>/dev/null; then
    vulkan_loader="carried $(basename "$deb") (dpkg -x)"
  elif [ -n "$deb" ]; then
    # No dpkg: a .deb is an ar archive holding data.tar.{xz,zst,gz}; Python reads ar and tar.xz/gz.
    "$python" - "$deb" "$vk" <<'EOF' && vulkan_loader="carried $(basename "$deb") (python)"
import io, sys, tarfile
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'!<arch>\n', 'not an ar archive'
offset = 8
while offset < len(data):
    name = data[offset:offset + 16].decode().strip().rstrip('/')
    size = int(data[offset + 48:offset + 58].decode().strip())
    body = data[offset + 60:offset + 60 + size]
    if name.startswith('data.tar'):
        safe = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2], **safe)
        break
    offset += 60 + size + (size & 1)
else:
    sys.exit('no data.tar in the .deb')
EOF
  elif [ -f "$bundle/libvulkan1-installed.tar.xz" ]; then
    tar -C "$vk" -xJf "$bundle/libvulkan1-installed.tar.xz" && vulkan_loader="carried libvulkan1-installed.tar.xz"
  fi
  if [ -e "$vk/usr/lib/x86_64-linux-gnu/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH="$vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    vulkan_loader="none (no libvulkan.so.1 on the machine and the carried one could not be unpacked)"
  fi
fi

icd=""
icd_note=""
find_limit=""
command -v timeout >/dev/null 2>&1 && find_limit="timeout 90"
if [ "$swiftshader" = 1 ]; then
  for candidate in /usr/lib/chromium/vk_swiftshader_icd.json /usr/lib/chromium-browser/vk_swiftshader_icd.json; do
    [ -f "$candidate" ] && { icd="$candidate"; break; }
  done
  [ -n "$icd" ] || icd="$($find_limit find / -name 'vk_swiftshader_icd.json' -not -path '/proc/*' -not -path '/sys/*' 2>/dev/null | head -1)"
  icd_note="swiftshader (smoke test)"
else
  for candidate in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$candidate" ] && { icd="$candidate"; break; }
  done
  [ -n "$icd" ] || icd="$($find_limit find / -name 'nvidia_icd*.json' -not -path '/proc/*' -not -path '/sys/*' 2>/dev/null | head -1)"
  if [ -z "$icd" ]; then
    # No manifest, but the driver's Vulkan ICD library may be mounted (libGLX_nvidia / libEGL_nvidia): write one.
    icd_library="$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 .*x86-64/ { print $NF; exit }')"
    [ -n "$icd_library" ] || icd_library="$(ldconfig -p 2>/dev/null | awk '/libEGL_nvidia\.so\.0 .*x86-64/ { print $NF; exit }')"
    [ -n "$icd_library" ] || icd_library="$($find_limit find / \( -name 'libGLX_nvidia.so.0' -o -name 'libEGL_nvidia.so.0' \) -not -path '/proc/*' -not -path '/sys/*' 2>/dev/null | head -1)"
    if [ -n "$icd_library" ]; then
      icd="$work/nvidia_icd.json"
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$icd_library" >"$icd"
      icd_note="written by run.sh for $icd_library (no nvidia_icd.json found)"
    else
      icd_note="no NVIDIA Vulkan ICD found (the container may lack the 'graphics' driver capability: NVIDIA_DRIVER_CAPABILITIES=all)"
    fi
  fi
fi
if [ -n "$icd" ]; then
  export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
fi
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ]; then
  for candidate in /usr/share/glvnd/egl_vendor.d/10_nvidia.json /etc/glvnd/egl_vendor.d/10_nvidia.json; do
    [ -f "$candidate" ] && [ "$swiftshader" != 1 ] && { export __EGL_VENDOR_LIBRARY_FILENAMES="$candidate"; break; }
  done
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ] || [ ! -w "$XDG_RUNTIME_DIR" ]; then
  export XDG_RUNTIME_DIR="$work/xdg-runtime"
  mkdir -p "$XDG_RUNTIME_DIR"
fi
chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true

gpu="$(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || true)"
manifest="$(cat "$bundle/manifest.json" 2>/dev/null || echo null)"
node_version="$([ "$run_node" = 1 ] && "$node" --version 2>&1 | head -1 || echo skipped)"
emit "{\"kind\":\"setup\",\"host\":$(json_string "$(hostname 2>/dev/null || echo unknown)"),\"kernel\":$(json_string "$(uname -r)"),\"os\":$(json_string "$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}")"),\"cpus\":$(nproc 2>/dev/null || echo 0),\"nvidiaSmi\":$(json_string "${gpu:-absent}"),\"icd\":$(json_string "${icd:-none}"),\"icdNote\":$(json_string "$icd_note"),\"vulkanLoader\":$(json_string "$vulkan_loader"),\"eglVendor\":$(json_string "${__EGL_VENDOR_LIBRARY_FILENAMES:-unset}"),\"node\":$(json_string "$node_version"),\"notes\":$(json_string "${setup_notes[*]:-}"),\"steps\":$steps,\"warmup\":$warmup,\"swiftshader\":$([ "$swiftshader" = 1 ] && echo true || echo false),\"bundle\":$manifest}"

common=(--steps "$steps" --warmup "$warmup")
[ -n "$resnet50_size" ] && common+=(--resnet50-size "$resnet50_size")
[ -n "$max_batch" ] && common+=(--max-batch "$max_batch")
have_timeout=0
command -v timeout >/dev/null 2>&1 && have_timeout=1

# 3. longtail on webgpu: one process per configuration (fresh GPU memory; a hang costs only its own timeout).
if [ "$run_node" = 1 ]; then
  node_extra=()
  [ "$swiftshader" = 1 ] && node_extra+=(--allow-software)
  IFS=',' read -r -a config_list <<<"$configs"
  for config in "${config_list[@]}"; do
    log "longtail-webgpu $config"
    command=("$node" "$work/bench.mjs" --configs "$config" "${common[@]}" "${node_extra[@]}")
    [ "$have_timeout" = 1 ] && command=(timeout -k 10 "$config_timeout" "${command[@]}")
    output="$(cd "$work" && "${command[@]}" 2>"$work/node-$config.stderr")"
    status=$?
    lines="$(printf '%s\n' "$output" | grep '^{' || true)"
    if [ -n "$lines" ]; then
      while IFS= read -r line; do emit "$line"; done <<<"$lines"
    fi
    if [ -z "$lines" ] || { [ "$status" != 0 ] && ! grep -q '"error"' <<<"$lines"; }; then
      reason="exit $status$([ "$status" = 124 ] && echo " (timed out after ${config_timeout}s)"): $(grep -v '^\s*$' "$work/node-$config.stderr" | tail -3 | tr '\n' ' ' | cut -c1-600)"
      emit "{\"engine\":\"longtail-webgpu\",\"config\":\"$config\",\"error\":$(json_string "$reason")}"
    fi
    # Dawn's and tfjs' warnings, for the record (not JSON).
    grep -v '^\s*$' "$work/node-$config.stderr" | grep -v 'tfjs-node\|speed things up\|^=*$\|^Hi there' | head -5 | sed "s/^/run.sh: [$config stderr] /" >&2
  done
fi

# 4. PyTorch reference.
if [ "$run_torch" = 1 ]; then
  log "pytorch ($torch_device)"
  command=("$python" "$bundle/torch_reference.py" --configs "$configs" --device "$torch_device" "${common[@]}" "${torch_extra[@]}")
  [ "$torch_device" = cpu ] && command+=(--threads "$(nproc 2>/dev/null || echo 1)")
  [ "$have_timeout" = 1 ] && command=(timeout -k 10 "$((config_timeout * 2))" "${command[@]}")
  output="$("${command[@]}" 2>"$work/torch.stderr")"
  status=$?
  lines="$(printf '%s\n' "$output" | grep '^{' || true)"
  if [ -n "$lines" ]; then
    while IFS= read -r line; do emit "$line"; done <<<"$lines"
  else
    emit "{\"engine\":\"pytorch\",\"error\":$(json_string "exit $status: $(tail -3 "$work/torch.stderr" | tr '\n' ' ' | cut -c1-600)")}"
  fi
fi

# 5. Summary: ours / PyTorch per configuration, from this run only.
summary="$("$python" - "$results" <<'EOF' 2>&1
import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if line.startswith('{')]
ours = {r['config']: r for r in records if r.get('engine') == 'longtail-webgpu' and 'config' in r}
torch = {r['config']: r for r in records if str(r.get('engine', '')).startswith('pytorch') and 'config' in r}
setup = next((r for r in records if r.get('kind') == 'setup'), {})
rows = {}
for config in dict.fromkeys([*ours, *torch]):
    a, b = ours.get(config, {}), torch.get(config, {})
    row = {
        'batch': a.get('batch', b.get('batch')),
        'oursImagesPerSecond': a.get('imagesPerSecond'),
        'pytorchImagesPerSecond': b.get('imagesPerSecond'),
    }
    if a.get('imagesPerSecond') and b.get('imagesPerSecond'):
        row['ratioOursToPytorch'] = round(a['imagesPerSecond'] / b['imagesPerSecond'], 4)
        if a.get('batch') != b.get('batch'):
            row['warning'] = 'batches differ'
    if 'error' in a: row['oursError'] = a['error']
    if 'error' in b: row['pytorchError'] = b['error']
    rows[config] = row
adapter = next((r.get('adapter') for r in ours.values() if r.get('adapter')), None)
gpu = next((r.get('gpu') for r in torch.values() if r.get('gpu')), None)
print(json.dumps({'kind': 'summary', 'adapter': adapter, 'pytorchDevice': gpu or next((r.get('engine') for r in torch.values()), None),
                  'nvidiaSmi': setup.get('nvidiaSmi'), 'steps': setup.get('steps'), 'warmup': setup.get('warmup'),
                  'ratios': rows, 'errors': [f"{r.get('engine')}: {r['error']}" for r in records if 'error' in r and 'config' not in r],
                  'note': 'ratios are ours / PyTorch measured in this run on this machine'}))
EOF
)"
if printf '%s' "$summary" | grep -q '^{"kind": "summary"'; then
  emit "$summary"
else
  emit "{\"kind\":\"summary\",\"error\":$(json_string "$summary")}"
fi
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  cp "$results" "$OUT/gpu-bench.jsonl"
  cp "$work"/*.stderr "$OUT/" 2>/dev/null || true
fi
