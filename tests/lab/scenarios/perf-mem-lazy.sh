# Measurement, not a test (not in tests/lab/meson.build): vaultd's resident
# and proportional set size with 41 loop devices attached, idle after a
# restart; beside a running udisksd, as bench-udisks measures the two (where
# udisks2 is installed); after vaultd's first unlock, which loads
# libcryptsetup; and after the lock that follows. At each point, which of the
# libraries vaultd loads on first use are mapped; idle and after the lock,
# the resident KiB of each file mapped and of anonymous memory, largest
# first. Prints "bench: NAME VALUE UNIT".
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

LAZY="libcryptsetup libcrypto libdevmapper libjson-c libargon2 libpwquality libcrack"
UDISKSD=/usr/libexec/udisks2/udisksd

rss_kib() {
    awk '/^Rss:/ { print $2 }' "/proc/$1/smaps_rollup"
}
pss_kib() {
    awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"
}
owns() {
    busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s "$1" 2>/dev/null | grep -qx 'b true'
}
# The lazily loaded libraries mapped into $1, or "none".
lazy_mapped() {
    local lib found=()
    for lib in $LAZY; do
        grep -q "/$lib\.so" "/proc/$1/maps" && found+=("$lib")
    done
    echo "${found[*]:-none}"
}
# "KiB NAME" for each file mapped into $1 and for anonymous memory.
rss_by_mapping() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "") ? "[anon]" : $6 }
         /^Rss:/ { rss[name] += $2 }
         END { for (n in rss) if (rss[n] > 0) printf "%6d %s\n", rss[n], n }' \
        "/proc/$1/smaps" | sort -rn
}
figures() {
    local pid=$1 when=$2
    echo "bench: rss-41-vaultd-$when $(rss_kib "$pid") KiB"
    echo "bench: pss-41-vaultd-$when $(pss_kib "$pid") KiB"
    echo "mapped-$when: $(lazy_mapped "$pid")"
}

dev=$(loop_volume bench.img 256M)
blank_loops 40
stop_vaultd_now
restart_vaultd
vaultctl list >/dev/null
pid=$(pgrep -x vaultd)
figures "$pid" idle
echo "idle, resident KiB by mapping:"
rss_by_mapping "$pid" | head -n 25

# As bench-udisks measures: udisksd started beside it, and asked first.
if [[ -x $UDISKSD ]]; then
    "$UDISKSD" --no-debug >udisksd.log 2>&1 &
    udisksd=$!
    wait_for 120 owns org.freedesktop.UDisks2
    vaultctl list >/dev/null
    busctl --system call org.freedesktop.UDisks2 /org/freedesktop/UDisks2 \
        org.freedesktop.DBus.ObjectManager GetManagedObjects >/dev/null
    figures "$pid" beside-udisksd
    echo "bench: rss-41-udisksd $(rss_kib "$udisksd") KiB"
    echo "bench: pss-41-udisksd $(pss_kib "$udisksd") KiB"
    kill "$udisksd"
    wait "$udisksd" 2>/dev/null || true
fi

vaultctl unlock "$dev" --name perfmem --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" unlocked
vaultctl list >/dev/null
figures "$pid" unlocked

vaultctl lock perfmem >/dev/null
wait_state "$dev" locked
vaultctl list >/dev/null
figures "$pid" locked
echo "after the lock, resident KiB by mapping:"
rss_by_mapping "$pid" | head -n 25

losetup -D
