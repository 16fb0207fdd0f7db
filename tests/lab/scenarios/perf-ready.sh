# Measurement, not a test (not in tests/lab/meson.build): where vaultd's
# start goes, with 40 loop devices and one LUKS volume attached, as
# bench-udisks times it (first_answers: spawn to the first GetManagedObjects
# answer), READY_ROUNDS starts; beside each, vaultd's own account of it (its
# "ready:" log line: set-up, first scan, objects, and exec to main).
# Prints "bench: NAME VALUE UNIT".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

ROUNDS=${READY_ROUNDS:-5}

loop_volume ready.img 256M >/dev/null
blank_loops 40
trap 'pgrep -x vaultd >/dev/null || restart_vaultd' EXIT

# What a start costs before vaultd does anything: exec, linking, --version.
for what in /bin/true "$LAB_BUILD/daemon/vaultd --version"; do
    took=()
    for ((i = 0; i < 5; i++)); do
        started=$(now_ms)
        $what >/dev/null
        took+=($(($(now_ms) - started)))
    done
    echo "exec: $what: ${took[*]} ms"
done

since=$(wc -l <"$LAB_VAULTD_LOG")
first_answers "$ROUNDS" ready.txt 120 vaultd
tail -n +"$((since + 1))" "$LAB_VAULTD_LOG" | grep 'ready: owns' || true
echo "bench: ready-vaultd $(answered_ms ready.txt vaultd) ms"
losetup -D
