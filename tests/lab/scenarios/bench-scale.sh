# Benchmark (tests/bench/run), not a test: vaultd with 20 and then 200 loop
# devices attached: the time from its start to the first complete list, and
# the latency of a list (median of 5); and, where udisks2 is installed,
# udisksd's time from start to its first answer with the 200. Prints
# "bench: NAME VALUE UNIT".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

UDISKSD=/usr/libexec/udisks2/udisksd

listed() {
    [[ $(vaultctl --json list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') -ge $1 ]]
}
owns() {
    busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s "$1" 2>/dev/null | grep -qx 'b true'
}

attached=0
attach_loops() {
    while ((attached < $1)); do
        truncate -s 16M "loop$attached.img"
        losetup -f "loop$attached.img"
        attached=$((attached + 1))
    done
    udevadm settle --timeout=300
}

# First complete list: from exec until a list holds all @1 devices.
first_list() {
    local started
    stop_vaultd_now
    started=$(now_ms)
    restart_vaultd
    until listed "$1"; do :; done
    echo $(($(now_ms) - started))
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
first20=$(first_list 20)
list20=$(list_latency)
attach_loops 200
first200=$(first_list 200)
list200=$(list_latency)
echo "bench: first-list-20 $first20 ms"
echo "bench: first-list-200 $first200 ms"
echo "bench: first-list-ratio-200-20 $(python3 -c "print(round($first200 / $first20, 2))") x"
echo "bench: list-20 $list20 ms"
echo "bench: list-200 $list200 ms"

if [[ -x $UDISKSD ]]; then
    started=$(now_ms)
    "$UDISKSD" --no-debug >udisksd.log 2>&1 &
    udisksd=$!
    wait_for 300 owns org.freedesktop.UDisks2
    busctl --system call org.freedesktop.UDisks2 /org/freedesktop/UDisks2 \
        org.freedesktop.DBus.ObjectManager GetManagedObjects >/dev/null
    answered=$(($(now_ms) - started))
    echo "bench: udisksd-first-answer-200 $answered ms"
    echo "bench: first-list-200-vs-udisksd $(python3 -c "print(round($first200 / $answered, 2))") x"
    kill "$udisksd"
    wait "$udisksd" 2>/dev/null || true
fi
losetup -D
