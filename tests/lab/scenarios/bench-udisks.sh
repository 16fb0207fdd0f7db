# Benchmark (tests/bench/run), not a test: vaultd against udisks2, the daemon
# that does the nearest thing, side by side in one guest (skipped, saying so,
# where udisks2 is not installed). One unlock, mount, unmount and lock cycle
# on one loop device through vaultctl and through udisksctl (same header,
# pbkdf2 at 1000 iterations, key from a file); each daemon's time from start
# to answering on the bus, and its resident and proportional set size, with
# 40 loop devices attached. "Ready" is from spawning the daemon to the reply
# to its first GetManagedObjects, timed by one D-Bus client that waits for
# the bus name to appear and asks at once (first_answers in vault-lib.sh);
# the median of 3 starts of each, alternating, each daemon stopped between.
# Memory is read from the last instance of each, once both have answered.
# Prints "bench: NAME VALUE UNIT".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

UDISKSD=/usr/libexec/udisks2/udisksd
CYCLES=5
if [[ ! -x $UDISKSD ]]; then
    echo "bench: udisks2 is not installed (apt-get install udisks2 libblockdev-crypto2):" \
        "nothing to compare"
    exit 0
fi

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
pss_kib() {
    awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"
}

dev=$(loop_volume bench.img 256M)
loop=/dev/$dev

# Whatever happens, no udisksd outlives the scenario (it runs in a session
# of its own), and vaultd runs afterwards as the lab expects.
leave_as_found() {
    local pid
    for pid in $(pgrep -x udisksd || true); do
        stop_pid "$pid"
    done
    pgrep -x vaultd >/dev/null || restart_vaultd
}
trap leave_as_found EXIT
trap 'exit 143' TERM

# Ready: from spawning to the first answer, with 40 loop devices attached.
blank_loops 40
first_answers 3 ready.txt 120 vaultd udisksd
vaultd_ready=$(answered_ms ready.txt vaultd)
udisks_ready=$(answered_ms ready.txt udisksd)
udisksd=$(answered_pid ready.txt udisksd)
# Memory is read once both have answered a first question (their object
# list, asked by first_answers), from the last instance of each.
vaultd=$(pgrep -x vaultd)
echo "bench: ready-vaultd $vaultd_ready ms"
echo "bench: ready-udisksd $udisks_ready ms"
echo "bench: ready-ratio $(python3 -c "print(round($vaultd_ready / $udisks_ready, 2))") x"
echo "bench: rss-41-vaultd $(rss_kib "$vaultd") KiB"
echo "bench: rss-41-udisksd $(rss_kib "$udisksd") KiB"
echo "bench: pss-41-vaultd $(pss_kib "$vaultd") KiB"
echo "bench: pss-41-udisksd $(pss_kib "$udisksd") KiB"

# The cycle, alternating the two, each timed on its own. udisksd probes each
# new mapping (a dumpe2fs holds it open for a moment) and vaultd's lock
# refuses, naming it, while it does: the lock is tried again until it
# succeeds, the wait counted in vaultctl's time.
ours=()
theirs=()
retried=0
for ((i = 0; i < CYCLES; i++)); do
    started=$(now_ms)
    vaultctl unlock "$dev" --name bench --mount /mnt/bench --key-file "$KEY_FILE" >/dev/null
    if ! vaultctl lock bench >/dev/null 2>lock.err; then
        cat lock.err
        retried=$((retried + 1))
        wait_for 30 vaultctl lock bench >/dev/null
    fi
    ours+=($(($(now_ms) - started)))

    started=$(now_ms)
    out=$(udisksctl unlock --no-user-interaction -b "$loop" --key-file "$KEY_FILE") ||
        fail "udisksctl unlock failed (libblockdev-crypto2 installed?)"
    clear=${out##* as }
    clear=${clear%.}
    udisksctl mount --no-user-interaction -b "$clear" >/dev/null || fail "udisksctl mount failed"
    udisksctl unmount --no-user-interaction -b "$clear" >/dev/null ||
        fail "udisksctl unmount failed"
    udisksctl lock --no-user-interaction -b "$loop" >/dev/null || fail "udisksctl lock failed"
    theirs+=($(($(now_ms) - started)))
done
echo "cycles: vaultctl ${ours[*]} ms ($retried locks tried again); udisksctl ${theirs[*]} ms"
v=$(median "${ours[@]}")
u=$(median "${theirs[@]}")
echo "bench: cycle-vaultctl $v ms"
echo "bench: cycle-udisksctl $u ms"
echo "bench: cycle-ratio-udisks $(python3 -c "print(round($v / $u, 2))") x"

stop_pid "$udisksd"
losetup -D
