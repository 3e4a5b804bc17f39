#!/usr/bin/env bash
# scripts/nvml-check.sh [BUILD_DIR] - on a machine with NVIDIA GPUs and their driver: does the
# agent see the GPUs as nvidia-smi does? (docs/agent.md, "Checking NVML on a GPU machine")
#
# Builds gpurent into BUILD_DIR (default ./build) when it is not there, runs
# `gpurent agent --gpus nvml --list-gpus` (discovery and one telemetry sample, nothing
# registered, no server needed) and compares it, GPU by GPU, with
#   nvidia-smi --query-gpu=index,uuid,name,memory.total,pci.bus_id,utilization.gpu,
#              memory.used,power.draw,temperature.gpu --format=csv,noheader,nounits
# and `nvidia-smi topo -m`:
#   exact:   the GPU count; each index's uuid; model = name less "NVIDIA ", spaces as '-';
#            memory.total (MiB); pci.bus_id;
#   islands: two GPUs share an NVLink island exactly when `topo -m` joins them by NV# links
#            (directly or through others);
#   close:   live readings taken a moment apart: utilization within 25 points, memory used
#            within 5 % + 256 MiB, power within 20 % + 10 W, temperature within 5 C
#            ([N/A] from nvidia-smi is skipped).
# Prints both views and one line per difference; exits 0 when everything matches, 1 when
# something differs, 2 when it cannot run (no nvidia-smi, no build). NVIDIA_SMI names
# another nvidia-smi (the test suite points it at a stand-in).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
smi=${NVIDIA_SMI:-nvidia-smi}

if ! command -v "$smi" >/dev/null; then
    echo "nvml-check: $smi not found: run this on a machine with NVIDIA's driver" >&2
    exit 2
fi
if [ ! -x "$build/gpurent" ]; then
    echo "nvml-check: building gpurent into $build"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DGPURENT_TESTS=OFF -DGPURENT_BENCH=OFF >/dev/null || exit 2
    cmake --build "$build" >/dev/null || exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpurent-nvml-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! "$build/gpurent" agent --gpus nvml --list-gpus >"$tmp/ours.csv" 2>"$tmp/ours.err"; then
    if ! [ -s "$tmp/ours.csv" ]; then
        echo "nvml-check: gpurent agent --gpus nvml --list-gpus failed:" >&2
        cat "$tmp/ours.err" >&2
        exit 1
    fi
    cat "$tmp/ours.err" >&2 # some telemetry could not be read: compared below
fi
"$smi" --query-gpu=index,uuid,name,memory.total,pci.bus_id,utilization.gpu,memory.used,power.draw,temperature.gpu \
    --format=csv,noheader,nounits >"$tmp/smi.csv" || exit 2
"$smi" topo -m >"$tmp/topo.txt" || exit 2

echo "== gpurent agent --gpus nvml --list-gpus"
cat "$tmp/ours.csv"
echo "== nvidia-smi"
cat "$tmp/smi.csv"
echo "== nvidia-smi topo -m"
cat "$tmp/topo.txt"
echo "== differences"
python3 - "$tmp/ours.csv" "$tmp/smi.csv" "$tmp/topo.txt" <<'PY'
import csv, re, sys

ours = list(csv.DictReader(open(sys.argv[1])))
smi = [[c.strip() for c in row] for row in csv.reader(open(sys.argv[2])) if row]
topo = open(sys.argv[3]).read()
bad = []

def num(v):
    try:
        return float(v)
    except ValueError:
        return None  # [N/A], [Not Supported]

if len(ours) != len(smi):
    bad.append("GPU count: gpurent %d, nvidia-smi %d" % (len(ours), len(smi)))
n = min(len(ours), len(smi))
for o, s in zip(ours, smi):
    idx, uuid, name, mem_total, bus, util, mem_used, power, temp = s[:9]
    g = "GPU %s" % idx
    if o["index"] != idx:
        bad.append("%s: gpurent lists index %s here" % (g, o["index"]))
    if o["uuid"] != uuid:
        bad.append("%s: uuid %s, nvidia-smi %s" % (g, o["uuid"], uuid))
    model = re.sub(r"^NVIDIA ", "", name).replace(" ", "-")
    if o["model"] != model:
        bad.append("%s: model %s, nvidia-smi name %r (expected %s)" % (g, o["model"], name, model))
    if num(mem_total) is not None and int(o["memory_mib"]) != int(num(mem_total)):
        bad.append("%s: memory %s MiB, nvidia-smi %s MiB" % (g, o["memory_mib"], mem_total))
    if o["pci_bus_id"].upper() != bus.upper():
        bad.append("%s: PCI bus id %s, nvidia-smi %s" % (g, o["pci_bus_id"], bus))
    for field, theirs, tol in (("util_pct", util, lambda v: 25),
                               ("mem_used_mib", mem_used, lambda v: 0.05 * v + 256),
                               ("power_w", power, lambda v: 0.20 * v + 10),
                               ("temp_c", temp, lambda v: 5)):
        t = num(theirs)
        if t is None:
            continue
        if abs(float(o[field]) - t) > tol(t):
            bad.append("%s: %s %s, nvidia-smi %s" % (g, field, o[field], theirs))

# NVLink islands: the connected components of topo -m's NV# links
parent = list(range(n))
def find(x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x
for line in topo.splitlines():
    cols = line.split()
    m = re.match(r"^GPU(\d+)$", cols[0]) if cols else None
    if not m or int(m.group(1)) >= n:
        continue
    i = int(m.group(1))
    for j, v in enumerate(cols[1:1 + n]):
        if re.match(r"^NV\d+$", v):
            parent[find(i)] = find(j)
for i in range(n):
    for j in range(i + 1, n):
        same_ours = ours[i]["nvlink_island"] == ours[j]["nvlink_island"]
        same_topo = find(i) == find(j)
        if same_ours != same_topo:
            bad.append("GPUs %d and %d: %s by gpurent, %s by topo -m" % (
                i, j, "one island" if same_ours else "apart",
                "NVLinked" if same_topo else "not NVLinked"))
for b in bad:
    print("DIFFERS " + b)
print("nvml-check: %d GPUs, %s" % (n, "%d differences" % len(bad) if bad else "all match"))
sys.exit(1 if bad else 0)
PY
