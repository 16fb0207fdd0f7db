# Formatting a volume that is mounted, unlocked, or held open by another
# program is refused as Busy and writes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach inuse 256M)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE"
vaultctl unlock "$dev" --name busyvol --mount /mnt/busy --key-file "$KEY_FILE"
wait_state "$dev" mounted
force="/dev/$dev:$(blockdev --getsize64 "/dev/$dev")"
expect_error Busy vaultctl --json format "$dev" --force "$force" --key-file "$KEY_FILE"
check "still mounted" mountpoint -q /mnt/busy

vaultctl unmount "$dev"
wait_state "$dev" unlocked
expect_error Busy vaultctl --json format "$dev" --force "$force" --key-file "$KEY_FILE"
vaultctl lock "$dev"
wait_state "$dev" locked

# Another program holding the device open exclusively, until we say stop.
other=$(lab_attach held 64M)
wait_state "$other" empty
before=$(fingerprint "$other")
mkfifo stop
python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
print("held", flush=True)
open(sys.argv[2]).read()
' "/dev/$other" stop >held.log &
holder=$!
wait_for 10 grep -q held held.log
expect_error Busy vaultctl --json format "$other" --key-file "$KEY_FILE"
echo stop >stop
wait "$holder"
check "nothing changed on the held device" test "$before" = "$(fingerprint "$other")"
