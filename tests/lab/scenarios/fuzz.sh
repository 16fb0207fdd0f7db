# vaultd's bus surface under fire: vaultd-bus-fuzz (tests/fuzz) sends at
# least 10,000 malformed and hostile calls to the running vaultd (wrong
# argument types and counts, unknown objects, interfaces and members, huge
# strings, hostile descriptors, names and mount points, bad option dicts).
# Afterwards vaultd still answers from the same process, its memory is within
# 10 % of where it was after the warm-up, it holds no more descriptors, and
# nothing changed that the fuzzer may not touch: the bystander disk (byte for
# byte), the guest's root (no new or changed file outside the sandbox), the
# mount table. The target disk is fair game and ends up formatted.
#
# The full run (10,000 calls, about 16 minutes under TCG) takes longer than
# the lab's default limits:
#     python3 tests/lab/lab.py --build-dir BUILD --out OUT \
#         --timeout 7200 --scenario-timeout 5400 fuzz
# fuzz-quick, in the test list, runs the same with FUZZ_CALLS=1000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

FUZZ=$LAB_BUILD/tests/fuzz/vaultd-bus-fuzz
FUZZ_CALLS=${FUZZ_CALLS:-10000}
REPORT=$LAB_OUT/fuzz-report.txt
# Mount points must lie in one of vaultd's mount roots (/secure, /mnt, /media).
SANDBOX=$(mktemp -d /mnt/vaultd-fuzz.XXXXXX)
check "the fuzzer is built" test -x "$FUZZ"

target=$(lab_attach fuzz-target 256M)
bystander=$(lab_attach fuzz-bystander 64M)

# The bystander holds an ext4 filesystem with a file; nobody gives it to vaultd.
mkfs.ext4 -q -L bystander "/dev/$bystander"
mkdir bystander-mnt
mount "/dev/$bystander" bystander-mnt
echo "the bystander's own data" >bystander-mnt/keep
umount bystander-mnt
wait_state "$bystander" data
wait_state "$target" empty
bystander_sum=$(sha256sum "/dev/$bystander" | cut -d' ' -f1)

# Every file the guest wrote since boot is in the overlay's upper layer
# (guest/init mounts it), which PID 1's root still shows; our working
# directory and the sandbox aside. Directories are listed without times:
# adding and removing entries touches them.
root_snapshot() {
    local here=./${PWD#/} sandbox=./${SANDBOX#/}
    (cd /proc/1/root/rw/upper && find . \( -path "$here" -o -path "$sandbox" \) -prune -o \
        \( -type d -printf '%p %y\n' -o -printf '%p %y %s %T@\n' \) | sort)
}

# vaultd's mount base may appear; it is vaultd's to create. So may the
# header backup a successful Format keeps (a new UUID.img and UUID.json in
# /var/lib/vaultd/headers, and the directories above it in the overlay);
# nothing there may change or go. (No <(...):
# the guest has no /dev/fd.)
unexpected_root_changes() {
    root_snapshot >root-after
    diff root-before root-after | grep '^[<>]' | grep -v -E '^> \./media(/vault)? d$' |
        grep -v -E '^> \./var(/lib(/vaultd(/headers)?)?)? d$' |
        grep -v -E '^> \./var/lib/vaultd/headers/[0-9a-f-]{36}\.(img|json) f [0-9]+ [0-9.]+$' ||
        true
}

etc_entries() {
    find /etc -mindepth 1 -maxdepth 1 | sort | sha256sum
}

mounts_now() {
    findmnt --raw --noheadings --output TARGET,SOURCE | sort
}

figure() {
    sed -n "s/^$1=//p" "$REPORT" 2>/dev/null || true
}

# Lines of vaultd's log written during the run that a caller's newline forged.
forged_lines() {
    tail -c +$((log_before + 1)) "$LAB_VAULTD_LOG" | grep -a -c '^vaultd: forged line' || true
}

vmrss_of() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# Every check after the run is made, so that one finding does not hide the
# next; the scenario fails at the end if any of them did.
failed=()
verify() {
    (check "$@") || failed+=("$1")
}

root_snapshot >root-before
mounts_now >mounts-before
log_before=$(stat -c %s "$LAB_VAULTD_LOG")
etc_before=$(etc_entries)

status=0
"$FUZZ" --target "$target" --bystander "$bystander" --sandbox "$SANDBOX" \
    --calls "$FUZZ_CALLS" --warmup 400 --report "$REPORT" || status=$?
verify "the fuzzer ran to the end" test "$status" -eq 0

echo "figures: $(tr '\n' ' ' <"$REPORT")"
pid=$(figure daemon_pid)
echo "vaultd.log grew by $(($(stat -c %s "$LAB_VAULTD_LOG") - log_before)) bytes"
forged=$(forged_lines)

# Liveness: the same process answers, and it still knows its volumes.
verify "vaultd is the same process (${pid:-unknown})" kill -0 "${pid:-0}"
verify "vaultd answers Manager.Version" busctl --system get-property org.vaultd.Vault1 \
    /org/vaultd/Vault1 org.vaultd.Vault1.Manager Version
verify "vaultd answers GetManagedObjects" busctl --system call org.vaultd.Vault1 \
    /org/vaultd/Vault1 org.freedesktop.DBus.ObjectManager GetManagedObjects
verify "vaultctl still lists the bystander" volume_is "$bystander" data

# Memory and descriptors against the baseline taken after the warm-up.
baseline=$(figure rss_baseline_kib)
rss=$(vmrss_of "${pid:-0}")
echo "vaultd VmRSS: baseline ${baseline:-?} kB, now ${rss:-?} kB, peak $(figure rss_peak_kib) kB"
# A leak grows; giving memory back to the system (glibc trims) is fine.
verify "VmRSS is at most 10 % above the baseline" \
    test "$((${rss:-0} * 100))" -le "$((${baseline:-0} * 110))" -a "${rss:-0}" -gt 0
fds=$(find "/proc/${pid:-0}/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l || true)
echo "vaultd descriptors: baseline $(figure fds_baseline), now $fds"
verify "vaultd holds no more descriptors than at the baseline" \
    test -d "/proc/${pid:-0}" -a "$fds" -le "$(figure fds_baseline)"

# Nothing changed that the fuzzer may not touch.
verify "the bystander is byte for byte as it was" \
    test "$bystander_sum" = "$(sha256sum "/dev/$bystander" | cut -d' ' -f1)"
changes=$(unexpected_root_changes)
[[ -z $changes ]] || echo "changes in the guest's root outside the sandbox:"$'\n'"$changes"
verify "no new or changed file in the guest's root outside the sandbox" test -z "$changes"
verify "no new entry in /etc" test "$etc_before" = "$(etc_entries)"
verify "nothing under /etc/vault" test ! -e /etc/vault
verify "the sandbox's link still points at /etc" test "$(readlink "$SANDBOX/etc-link")" = /etc
verify "no label ran as a shell command" test ! -e /pwn1 -a ! -e /pwn2
mounts_now >mounts-after
diff mounts-before mounts-after || true
verify "the mount table is as it was" cmp -s mounts-before mounts-after
verify "no dm-crypt mapping is left" no_crypt_mapping
verify "no volume key is left in the kernel" no_volume_key_in_kernel

# What the fuzzer judged against the interface XML (its output has the calls).
verify "vaultd did not exit during the run" test "$(figure daemon_exited)" = 0
verify "no call that must fail got a success reply" test "$(figure must_fail_successes)" -eq 0
verify "every call got a reply in time" test "$(figure hangs)" -eq 0
verify "no mount appeared outside the sandbox and /media/vault" \
    test "$(figure mount_violations)" -eq 0
verify "no error reply left the target changed" test "$(figure changed_on_error)" -eq 0
verify "no newline in a caller's string forged a line in vaultd's log ($forged did)" \
    test "$forged" -eq 0
verify "at least $FUZZ_CALLS hostile calls were sent" \
    test "$(figure hostile_calls)" -ge "$FUZZ_CALLS"

# Not across file systems: should anything still be mounted in there, it stays.
rm -rf --one-file-system "$SANDBOX"

for what in "${failed[@]}"; do
    echo "failed: $what"
done
check "every check above passed (${#failed[@]} failed)" test "${#failed[@]}" -eq 0
