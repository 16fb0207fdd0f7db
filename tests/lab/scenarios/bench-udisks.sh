# Benchmark (tests/bench/run), not a test: vaultd against udisks2, the daemon
# that does the nearest thing, side by side in one guest (skipped, saying so,
# where udisks2 is not installed). One unlock, mount, unmount and lock cycle
# on one loop device through vaultctl and through udisksctl (same header,
# pbkdf2 at 1000 iterations, key from a file); each daemon's time from start
# to answering on the bus, and its resident and proportional set size, with
# 40 loop devices attached. Prints "bench: NAME VALUE UNIT".
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
owns() {
    busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s "$1" 2>/dev/null | grep -qx 'b true'
}

truncate -s 256M bench.img
loop=$(losetup -f --show bench.img)
dev=${loop#/dev/}
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked

# Ready: from exec to owning the bus name, with 40 loop devices attached.
for ((i = 0; i < 40; i++)); do
    truncate -s 16M "more$i.img"
    losetup -f "more$i.img"
done
udevadm settle
stop_vaultd_now
started=$(now_ms)
restart_vaultd
vaultd_ready=$(($(now_ms) - started))
started=$(now_ms)
"$UDISKSD" --no-debug >udisksd.log 2>&1 &
udisksd=$!
wait_for 120 owns org.freedesktop.UDisks2
udisks_ready=$(($(now_ms) - started))
# Both answer a first question (their object list) before memory is read.
vaultctl list >/dev/null
busctl --system call org.freedesktop.UDisks2 /org/freedesktop/UDisks2 \
    org.freedesktop.DBus.ObjectManager GetManagedObjects >/dev/null
vaultd=$(pgrep -x vaultd)
echo "bench: ready-vaultd $vaultd_ready ms"
echo "bench: ready-udisksd $udisks_ready ms"
echo "bench: ready-ratio $(python3 -c "print(round($vaultd_ready / $udisks_ready, 2))") x"
echo "bench: rss-41-vaultd $(rss_kib "$vaultd") KiB"
echo "bench: rss-41-udisksd $(rss_kib "$udisksd") KiB"
echo "bench: pss-41-vaultd $(pss_kib "$vaultd") KiB"
echo "bench: pss-41-udisksd $(pss_kib "$udisksd") KiB"

# The cycle, alternating the two, each timed on its own.
ours=()
theirs=()
for ((i = 0; i < CYCLES; i++)); do
    started=$(now_ms)
    vaultctl unlock "$dev" --name bench --mount /mnt/bench --key-file "$KEY_FILE" >/dev/null
    vaultctl lock bench >/dev/null
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
echo "cycles: vaultctl ${ours[*]} ms; udisksctl ${theirs[*]} ms"
v=$(median "${ours[@]}")
u=$(median "${theirs[@]}")
echo "bench: cycle-vaultctl $v ms"
echo "bench: cycle-udisksctl $u ms"
echo "bench: cycle-ratio-udisks $(python3 -c "print(round($v / $u, 2))") x"

kill "$udisksd"
wait "$udisksd" 2>/dev/null || true
losetup -D
