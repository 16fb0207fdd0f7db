# Surprise removal: a disk detached while it is mounted and being written.
# vaultd stays up, announces VolumeLost, detaches the mount, takes the key
# out of the kernel and the mapping goes within 10 seconds; attached again
# (under whatever name the kernel gives it now) the volume is recognised
# and unlocks at once. The same for a volume that was only unlocked.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach lost 256M)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE"
wait_state "$dev" locked
uuid=$(volume_field "$dev" luksUuid)
vaultctl unlock "$dev" --name lostvol --mount /secure --key-file "$KEY_FILE"
wait_state "$dev" mounted
echo "written before the detach" >/secure/marker
sync
pid=$(pidof vaultd)

lost_match="type='signal',interface='org.vaultd.Vault1.Manager',member='VolumeLost'"
busctl --system monitor --match "$lost_match" \
    >signals.txt 2>&1 &
monitor=$!
wait_for 10 grep -q "Monitoring" signals.txt

# A writer that stops at its first error, as a program should.
python3 - <<'PY' &
import os
fd = os.open("/secure/stream", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
chunk = b"x" * 65536
try:
    while True:
        os.write(fd, chunk)
        os.fsync(fd)
except OSError as e:
    open("writer.stopped", "w").write(str(e))
PY
writer=$!
wait_for 10 test -s /secure/stream

lab_detach lost
wait_for 10 no_crypt_mapping
check "the mapping is gone within 10 seconds" no_crypt_mapping
check "no volume key is left in the kernel" no_volume_key_in_kernel
check "vaultd is still the same process" test "$(pidof vaultd)" = "$pid"
check "vaultd still answers" vaultctl list
check "/secure is no longer mounted" bash -c '! mountpoint -q /secure'
wait_for 10 grep -q VolumeLost signals.txt
check "VolumeLost was announced for the mapping" grep -q '"lostvol"' signals.txt
check "with the volume's LUKS UUID" grep -q "\"$uuid\"" signals.txt
wait "$writer" || true
check "the writer saw an error and stopped" test -s writer.stopped
echo "writer: $(cat writer.stopped)"
grep "lost" "$LAB_VAULTD_LOG" || true

# The same volume again: recognised by its UUID, unlocks at once.
again=$(lab_attach lost 256M)
wait_state "$again" locked
check "attached again as $again, with the same LUKS UUID" \
    test "$(volume_field "$again" luksUuid)" = "$uuid"
check "vaultd recognised it" grep -q \
    "recognised: the volume lost as '/dev/$dev' (mapping 'lostvol') is back as '/dev/$again'" \
    "$LAB_VAULTD_LOG"
vaultctl unlock "$uuid" --name lostvol --mount /secure --key-file "$KEY_FILE"
wait_state "$again" mounted
check "what was synced before the detach is there" \
    test "$(cat /secure/marker)" = "written before the detach"

# Only unlocked, not mounted: the mapping goes as well.
vaultctl unmount "$again"
wait_state "$again" unlocked
lab_detach lost
wait_for 10 no_crypt_mapping
check "an unlocked volume's mapping is gone within 10 seconds" no_crypt_mapping
check "and its key" no_volume_key_in_kernel
kill "$monitor" 2>/dev/null || true
check "vaultd is still the same process at the end" test "$(pidof vaultd)" = "$pid"
