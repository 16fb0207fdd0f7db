# State changed behind vaultd's back: a mapping opened by hand (cryptsetup,
# here an outside actor) is reported as unlocked under its name, and Unlock
# answers with that name instead of failing; a mount and an umount made by
# hand are noticed; Mount of a mounted volume returns where it is; a
# mapping name that another device's mapping holds is NameInUse. At start
# vaultd first takes udev's word for what each disk holds, then probes every
# disk itself: a filesystem written while udev was not looking shows, with no
# event to announce it.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach manual 128M)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE"
wait_state "$dev" locked

cryptsetup open --key-file "$KEY_FILE" "/dev/$dev" byhand
wait_state "$dev" unlocked
check "the hand-made mapping is reported by its name" \
    test "$(volume_field "$dev" mappingName)" = byhand
check "and nobody is recorded as having unlocked it" \
    test "$(volume_field "$dev" unlockedBy)" = 4294967295
out=$(vaultctl unlock "$dev" --name mine --key-file "$WRONG_KEY")
echo "$out"
check "unlock answers 'already unlocked' with its name" \
    test "$out" = "already unlocked: /dev/$dev as byhand"
check "no second mapping was opened" test ! -e /dev/mapper/mine

mkdir -p /mnt/byhand
mount /dev/mapper/byhand /mnt/byhand
wait_for 10 volume_is "$dev" mounted
check "a mount made by hand is seen" test "$(volume_field "$dev" mountPoint)" = /mnt/byhand
out=$(vaultctl mount "$dev")
check "mount of a mounted volume returns where it is" \
    test "$out" = "mounted /dev/$dev at /mnt/byhand"
umount /mnt/byhand
wait_for 10 volume_is "$dev" unlocked
check "an umount made by hand is seen" test -z "$(volume_field "$dev" mountPoint)"

# The name is this device's mapping; another volume cannot have it.
other=$(lab_attach other 128M)
wait_state "$other" empty
vaultctl format "$other" --fs ext4 --key-file "$KEY_FILE"
wait_state "$other" locked
expect_error NameInUse vaultctl --json unlock "$other" --name byhand --key-file "$KEY_FILE"
check "the other volume stays locked" volume_is "$other" locked

vaultctl lock "$dev"
wait_state "$dev" locked
check "no mapping is left" no_crypt_mapping
lab_detach other
lab_detach manual

# udev's database is left stale: its event queue is held while a filesystem
# goes onto a disk it last saw blank, and vaultd starts meanwhile.
stale=$(lab_attach stale 64M)
wait_state "$stale" empty
stop_vaultd_now
udevadm control --stop-exec-queue
mkfs.ext4 -q "/dev/$stale"
check "udev's database still says the disk is blank" \
    bash -c "! udevadm info --query=property /dev/$stale | grep -q '^ID_FS_TYPE='"
restart_vaultd
wait_for 30 volume_is "$stale" data
check "vaultd's own probe finds the filesystem udev has not seen" \
    test "$(volume_field "$stale" filesystemType)" = ext4
udevadm control --start-exec-queue
udevadm settle
lab_detach stale
