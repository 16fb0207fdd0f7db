# Benchmark (tests/bench/run), not a test: fio on three 1 GiB virtio
# disks: one through the mapping vaultd opens (formatted and unlocked with
# vaultctl, not mounted), one through a mapping formatted with cryptsetup
# luksFormat's defaults (pbkdf2 at 1000 iterations, as everywhere here) and
# opened with cryptsetup open, one raw. Jobs (libaio, direct=1, over the
# first 512 MiB, 2 s each after half a second of ramp): 4 KiB random read
# and write at queue depth 1 and 32, 1 MiB sequential read and write (queue
# depth 8). Each job runs on the three in turn, three times over (the turns
# forwards and backwards): the host's load drifts, from one run of a job to
# the next by as much as ten times on a busy host, and only ever slows a
# run down. Prints, for each job and setup, the best of its three runs in
# IOPS (random) or MiB/s (sequential); and the ratio vaultd / cryptsetup,
# the median of the three rounds' ratios, each between runs of the same
# round, side by side. The log has every run, and each mapping's dm table
# and sector size, which explain the figures.
# Prints "bench: NAME VALUE UNIT".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

bench_settings
RUNTIME=${BENCH_IO_RUNTIME:-2}
ROUNDS=3
JOBS=(seqwrite-1m randwrite-qd1 randwrite-qd32 seqread-1m randread-qd1 randread-qd32)

command -v fio >/dev/null || fail "fio is not installed (tests/bench/run installs it)"

# fio_job JOB DEVICE OUT: one job, its JSON report in OUT.
fio_job() {
    local rw bs depth
    case $1 in
        seqwrite-1m) rw=write bs=1M depth=8 ;;
        seqread-1m) rw=read bs=1M depth=8 ;;
        randwrite-qd*) rw=randwrite bs=4k depth=${1#*-qd} ;;
        randread-qd*) rw=randread bs=4k depth=${1#*-qd} ;;
    esac
    fio --output-format=json --output="$3" --name="$1" --filename="$2" --ioengine=libaio \
        --direct=1 --size=512M --time_based --runtime="$RUNTIME" --ramp_time=500ms \
        --rw="$rw" --bs="$bs" --iodepth="$depth"
}

# What explains the figures: the mapping's table (keys are not shown) and
# its logical and physical sector sizes.
describe_mapping() {
    echo "dm table of $1: $(dmsetup table "$1")"
    echo "sector size of /dev/mapper/$1: $(blockdev --getss "/dev/mapper/$1") logical," \
        "$(blockdev --getpbsz "/dev/mapper/$1") physical"
    cryptsetup luksDump "$2" | grep -E '^Flags:|sector:' | tr -s '\t ' ' '
}

ours=$(lab_attach io-vaultd 1G virtio)
theirs=$(lab_attach io-cryptsetup 1G virtio)
raw=$(lab_attach io-raw 1G virtio)
echo "sector size of the disks: $(blockdev --getss "/dev/$raw") logical," \
    "$(blockdev --getpbsz "/dev/$raw") physical"

wait_state "$ours" empty
vaultctl format "$ours" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$ours" locked
vaultctl unlock "$ours" --name io-vaultd --key-file "$KEY_FILE" >/dev/null
describe_mapping io-vaultd "/dev/$ours"

cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file "$KEY_FILE" "/dev/$theirs"
cryptsetup open --key-file "$KEY_FILE" "/dev/$theirs" io-cryptsetup
describe_mapping io-cryptsetup "/dev/$theirs"

declare -A target=([vaultd]=/dev/mapper/io-vaultd [cryptsetup]=/dev/mapper/io-cryptsetup
    [raw]=/dev/$raw)
started=$(now_ms)
for ((round = 1; round <= ROUNDS; round++)); do
    order=(vaultd cryptsetup raw)
    ((round % 2)) || order=(raw cryptsetup vaultd)
    for job in "${JOBS[@]}"; do
        for setup in "${order[@]}"; do
            fio_job "$job" "${target[$setup]}" "$job-$setup-$round.json"
        done
    done
done
echo "fio: $(($(now_ms) - started)) ms"

python3 - "$ROUNDS" "${JOBS[@]}" <<'PY'
import json, sys

rounds, jobs = int(sys.argv[1]), sys.argv[2:]

def figure(path):
    """IOPS for a 4 KiB job, MiB/s for a 1 MiB one."""
    with open(path) as f:
        job = json.load(f)["jobs"][0]
    side = job["read"] if "read" in job["jobname"] else job["write"]
    return side["bw_bytes"] / 1048576 if job["jobname"].endswith("-1m") else side["iops"]

for job in jobs:
    unit = "MiB/s" if job.endswith("-1m") else "IOPS"
    runs = {}
    for setup in ("vaultd", "cryptsetup", "raw"):
        runs[setup] = [figure(f"{job}-{setup}-{r}.json") for r in range(1, rounds + 1)]
        print(f"{job} {setup}: " + ", ".join(f"{v:.1f}" for v in runs[setup]) + f" {unit}")
    ratios = [v / c for v, c in zip(runs["vaultd"], runs["cryptsetup"])]
    print(f"{job} vaultd / cryptsetup by round: " + ", ".join(f"{r:.2f}" for r in ratios))
    ratios.sort()
    for setup, values in runs.items():
        best = max(values)
        shown = f"{best:.1f}" if unit == "MiB/s" else f"{best:.0f}"
        print(f"bench: io-{job}-{setup} {shown} {unit}")
    print(f"bench: io-{job}-ratio {ratios[len(ratios) // 2]:.2f} x")
PY

vaultctl lock io-vaultd >/dev/null
cryptsetup close io-cryptsetup
for id in io-vaultd io-cryptsetup io-raw; do
    lab_detach "$id"
done
