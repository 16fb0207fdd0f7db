# Benchmark (tests/bench/run), not a test: the unlock-mount-unmount-lock cycle
# through vaultd against the same cycle with the cryptsetup tool, on one loop
# device with pbkdf2 at 1000 iterations (the two alternate, medians
# compared); and vaultd's memory, idle and with 40 more loop devices. Prints
# figures as "bench: NAME VALUE UNIT".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

CYCLES=7

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$(pidof vaultd)/status"
}

truncate -s 256M bench.img
loop=$(losetup -f --show bench.img)
dev=${loop#/dev/}
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE"
wait_state "$dev" locked

vaultd_cycle() {
    vaultctl unlock "$dev" --name bench --mount /mnt/bench --key-file "$KEY_FILE" >/dev/null
    vaultctl lock bench >/dev/null
}
# The same cycle by hand, for the ratio (the tool is the baseline here).
mkdir -p /bench
cli_cycle() {
    cryptsetup open --key-file "$KEY_FILE" "$loop" benchcli
    mount /dev/mapper/benchcli /bench
    umount /bench
    cryptsetup close benchcli
}
# One of each first, untimed (the first run of each reads its programs and
# libraries from disk), then the two alternate, each cycle timed on its own:
# the median of each is compared.
vaultd_cycle
cli_cycle
ours=()
theirs=()
for ((i = 0; i < CYCLES; i++)); do
    started=$(now_ms)
    vaultd_cycle
    ours+=($(($(now_ms) - started)))
    started=$(now_ms)
    cli_cycle
    theirs+=($(($(now_ms) - started)))
done
echo "cycles: vaultctl ${ours[*]} ms; cryptsetup ${theirs[*]} ms"
vaultd_ms=$(median "${ours[@]}")
cli_ms=$(median "${theirs[@]}")

echo "bench: cycle-vaultd $vaultd_ms ms"
echo "bench: cycle-cryptsetup $cli_ms ms"
echo "bench: cycle-ratio $(python3 -c "print(round($vaultd_ms / $cli_ms, 2))") x"
echo "bench: rss-idle $(rss_kib) KiB"

for ((i = 0; i < 40; i++)); do
    truncate -s 16M "more$i.img"
    losetup -f "more$i.img"
done
volumes() {
    [[ $(vaultctl --json list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') -ge 41 ]]
}
wait_for 60 volumes
echo "bench: rss-with-41-volumes $(rss_kib) KiB"
start=$(now_ms)
vaultctl list >/dev/null
echo "bench: list-41-volumes $(( $(now_ms) - start )) ms"
losetup -D
