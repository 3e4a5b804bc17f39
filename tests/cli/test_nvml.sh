#!/usr/bin/env bash
# tests/cli/test_nvml.sh GPURENT_BIN FAKE_NVML_DIR SOURCE_DIR - NVML without a GPU:
#   - `gpurent agent --gpus nvml --list-gpus` with tests/unit/fake_nvml.c as
#     libnvidia-ml.so.1 on LD_LIBRARY_PATH: the exact CSV (identity, memory, PCI, islands,
#     telemetry);
#   - without it: exit 1 and the hint;
#   - scripts/nvml-check.sh against a stand-in nvidia-smi that agrees (exit 0, "all match")
#     and one that does not (exit 1, one DIFFERS line per difference).
set -euo pipefail

bin=${1:?usage: test_nvml.sh GPURENT_BIN FAKE_NVML_DIR SOURCE_DIR}
fake=${2:?}
src=${3:?}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpurent-test-nvml.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

LD_LIBRARY_PATH=$fake "$bin" agent --gpus nvml --list-gpus >"$tmp/out" || fail "--list-gpus: exit $?"
cat >"$tmp/want" <<'CSV'
index,uuid,model,memory_mib,pci_bus_id,nvlink_island,util_pct,mem_used_mib,power_w,temp_c
0,GPU-11111111-2222-3333-4444-555555555550,A100-SXM4-80GB,81920,00000000:07:00.0,0,37,1024,251.23,61
1,GPU-11111111-2222-3333-4444-555555555551,A100-SXM4-80GB,81920,00000000:0F:00.0,0,0,0,60.50,34
2,GPU-11111111-2222-3333-4444-555555555552,H100-80GB-HBM3,81559,00000000:47:00.0,1,99,40000,699.90,80
3,GPU-11111111-2222-3333-4444-555555555553,H100-80GB-HBM3,81559,00000000:4E:00.0,1,0,0,71.00,30
4,GPU-11111111-2222-3333-4444-555555555554,L4,23034,00000000:87:00.0,2,5,512,16.00,40
CSV
diff -u "$tmp/want" "$tmp/out" || fail "--list-gpus: not the fake's five GPUs"

mkdir "$tmp/empty"
set +e
LD_LIBRARY_PATH=$tmp/empty "$bin" agent --gpus nvml --list-gpus >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "no NVML: exit $rc, not 1"
grep -qF "gpurent: agent: --gpus nvml: libnvidia-ml.so.1 not found (no NVIDIA driver?)" "$tmp/err" ||
    fail "no NVML: $(cat "$tmp/err")"

# a stand-in nvidia-smi: what the real one prints for the fake's GPUs (MODE=bad: two
# differences, GPU 3's uuid and an NVLink from GPU 4 to GPU 0)
cat >"$tmp/nvidia-smi" <<'SH'
#!/bin/sh
if [ "$1" = topo ]; then
    l4=PHB
    [ "${MODE:-}" = bad ] && l4=NV2
    printf '\tGPU0\tGPU1\tGPU2\tGPU3\tGPU4\tCPU Affinity\tNUMA Affinity\n'
    printf 'GPU0\t X \tNV12\tSYS\tSYS\t%s\t0-31\t0\n' "$l4"
    printf 'GPU1\tNV12\t X \tSYS\tSYS\tSYS\t0-31\t0\n'
    printf 'GPU2\tSYS\tSYS\t X \tNV18\tSYS\t32-63\t1\n'
    printf 'GPU3\tSYS\tSYS\tNV18\t X \tSYS\t32-63\t1\n'
    printf 'GPU4\t%s\tSYS\tSYS\tSYS\t X \t0-31\t0\n' "$l4"
    printf '\nLegend:\n\n  X    = Self\n  NV#  = Connection traversing a bonded set of # NVLinks\n'
    exit 0
fi
u3=GPU-11111111-2222-3333-4444-555555555553
[ "${MODE:-}" = bad ] && u3=GPU-99999999-2222-3333-4444-555555555553
cat <<CSV
0, GPU-11111111-2222-3333-4444-555555555550, NVIDIA A100-SXM4-80GB, 81920, 00000000:07:00.0, 39, 1030, 249.87, 62
1, GPU-11111111-2222-3333-4444-555555555551, NVIDIA A100-SXM4-80GB, 81920, 00000000:0F:00.0, 0, 0, 60.12, 34
2, GPU-11111111-2222-3333-4444-555555555552, NVIDIA H100 80GB HBM3, 81559, 00000000:47:00.0, 98, 40100, 690.00, 81
3, $u3, NVIDIA H100 80GB HBM3, 81559, 00000000:4E:00.0, 0, 0, [N/A], 30
4, GPU-11111111-2222-3333-4444-555555555554, NVIDIA L4, 23034, 00000000:87:00.0, 5, 512, 16.40, 40
CSV
SH
chmod +x "$tmp/nvidia-smi"
build=$(dirname "$bin")
LD_LIBRARY_PATH=$fake NVIDIA_SMI=$tmp/nvidia-smi "$src/scripts/nvml-check.sh" "$build" \
    >"$tmp/out" 2>&1 || fail "nvml-check against an agreeing nvidia-smi: $(cat "$tmp/out")"
grep -qx "nvml-check: 5 GPUs, all match" "$tmp/out" || fail "nvml-check: $(cat "$tmp/out")"
set +e
MODE=bad LD_LIBRARY_PATH=$fake NVIDIA_SMI=$tmp/nvidia-smi "$src/scripts/nvml-check.sh" "$build" \
    >"$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "nvml-check against a differing nvidia-smi: exit $rc: $(cat "$tmp/out")"
grep '^DIFFERS' "$tmp/out" >"$tmp/differs" || true
cat >"$tmp/want" <<'TXT'
DIFFERS GPU 3: uuid GPU-11111111-2222-3333-4444-555555555553, nvidia-smi GPU-99999999-2222-3333-4444-555555555553
DIFFERS GPUs 0 and 4: apart by gpurent, NVLinked by topo -m
DIFFERS GPUs 1 and 4: apart by gpurent, NVLinked by topo -m
TXT
diff -u "$tmp/want" "$tmp/differs" || fail "nvml-check: not the differences made"
grep -qx "nvml-check: 5 GPUs, 3 differences" "$tmp/out" || fail "nvml-check: $(cat "$tmp/out")"
echo "ok"
