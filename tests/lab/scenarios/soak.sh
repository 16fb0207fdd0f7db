# A long run, by hand (not in tests/lab/meson.build): SOAK_CYCLES (1000)
# cycles of what an instance does with a volume: the disk is attached
# (hot-plugged, virtio), unlocked and mounted, a file written and files of
# the earlier cycles read back (the last cycle's and one at random; every
# 100th cycle all of them), unmounted, locked, and the disk detached. No
# cycle may fail; vaultd's resident memory and open descriptors at the end
# must be within 5 % of those after cycle 50. Prints a line every 50
# cycles. SOAK_CYCLES=N in OUT/bench.env (the lab's --out) runs N cycles.
#
#     python3 tests/lab/lab.py --build-dir build --out build/soak-out \
#         --timeout 9000 --scenario-timeout 8900 soak
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

bench_settings
CYCLES=${SOAK_CYCLES:-1000}
WARM=50

rss_kib() {
    awk '/^Rss:/ { print $2 }' "/proc/$(pgrep -x vaultd)/smaps_rollup"
}
fds() {
    ls "/proc/$(pgrep -x vaultd)/fd" | wc -l
}
# A descriptor may be open for a moment after a call (udev's, the bus's):
# within 5 % of the count after the warm-up, once vaultd has let go.
fds_within() {
    (($(fds) * 100 <= $1 * 105))
}

dev=$(lab_attach soak 256M virtio)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
pid=$(pgrep -x vaultd)
started=$(now_ms)
: >sums
for ((i = 1; i <= CYCLES; i++)); do
    if ((i > 1)); then
        dev=$(lab_attach soak 256M virtio)
        wait_state "$dev" locked
    fi
    vaultctl unlock "$dev" --name soak --mount --key-file "$KEY_FILE" >/dev/null ||
        fail "cycle $i: unlock failed"
    at=$(volume_field "$dev" mountPoint)
    head -c 64K /dev/urandom >"$at/file-$i"
    (cd "$at" && sha256sum "file-$i") >>sums
    # Every file of the earlier cycles every 100 cycles; between, the last
    # cycle's and one picked at random (reading them all every cycle makes
    # the run quadratic: 1000 cycles would take hours).
    if ((i % 100 == 0)); then
        cp sums check
    else
        sed -n "$((i > 1 ? i - 1 : 1))p;$((RANDOM % i + 1))p" sums >check
    fi
    (cd "$at" && sha256sum --quiet -c "$OLDPWD/check") ||
        fail "cycle $i: a file of an earlier cycle does not read back"
    vaultctl unmount soak >/dev/null || fail "cycle $i: unmount failed"
    vaultctl lock soak >/dev/null || fail "cycle $i: lock failed"
    wait_state "$dev" locked
    lab_detach soak
    wait_gone "$dev"
    [[ $(pgrep -x vaultd) == "$pid" ]] || fail "cycle $i: vaultd is not the process it was"
    if ((i == WARM)); then
        warm_rss=$(rss_kib)
        warm_fds=$(fds)
    fi
    if ((i % 50 == 0)); then
        echo "soak: after $i cycles: rss $(rss_kib) KiB, $(fds) descriptors," \
            "$((($(now_ms) - started) / i)) ms a cycle"
    fi
done
end_rss=$(rss_kib)
echo "soak: $CYCLES cycles, none failed; rss $warm_rss -> $end_rss KiB after cycle $WARM and at the end"
check "resident memory within 5 % of cycle $WARM's" test $((end_rss * 100)) -le $((warm_rss * 105))
check "descriptors within 5 % of cycle $WARM's ($warm_fds)" wait_for 10 fds_within "$warm_fds"
