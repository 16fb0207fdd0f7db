# Benchmark (tests/bench/run), not a test: vaultd with 20 and then 200 loop
# devices attached: the time from its start to the first complete list, and
# the latency of a list (median of 5); and, where udisks2 is installed,
# udisksd's time from start to its first answer with the 200. The starts
# are timed by one D-Bus client that waits for the bus name to appear and
# asks for the object list at once (first_answers in vault-lib.sh), again
# 10 ms after each reply that lacks a device: the median of 3 starts each,
# vaultd's and udisksd's alternating with the 200. Prints "bench: NAME
# VALUE UNIT".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

UDISKSD=/usr/libexec/udisks2/udisksd

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

attached=0
attach_loops() {
    while ((attached < $1)); do
        truncate -s 16M "loop$attached.img"
        losetup -f "loop$attached.img"
        attached=$((attached + 1))
    done
    udevadm settle --timeout=300
}

list_latency() {
    local times=() started
    for ((i = 0; i < 5; i++)); do
        started=$(now_ms)
        vaultctl list >/dev/null
        times+=($(($(now_ms) - started)))
    done
    median "${times[@]}"
}

attach_loops 20
# First complete list: from the spawn until a list holds all 20 devices.
first_answers 3 first-20.txt 300 vaultd:20
first20=$(answered_ms first-20.txt vaultd)
list20=$(list_latency)
attach_loops 200
udisks=()
[[ ! -x $UDISKSD ]] || udisks=(udisksd)
first_answers 3 first-200.txt 300 vaultd:200 "${udisks[@]}"
first200=$(answered_ms first-200.txt vaultd)
if [[ -x $UDISKSD ]]; then
    answered=$(answered_ms first-200.txt udisksd)
    stop_pid "$(answered_pid first-200.txt udisksd)"
fi
list200=$(list_latency)
echo "bench: first-list-20 $first20 ms"
echo "bench: first-list-200 $first200 ms"
echo "bench: first-list-ratio-200-20 $(python3 -c "print(round($first200 / $first20, 2))") x"
echo "bench: list-20 $list20 ms"
echo "bench: list-200 $list200 ms"

if [[ -x $UDISKSD ]]; then
    echo "bench: udisksd-first-answer-200 $answered ms"
    echo "bench: first-list-200-vs-udisksd $(python3 -c "print(round($first200 / $answered, 2))") x"
fi
losetup -D
