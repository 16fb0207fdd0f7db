# The classic walkthrough of encrypted EBS storage, through vaultd: attach,
# format, unlock and mount, write, lock, unlock again, read back, grow with
# the disk (no passphrase asked), detach.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach data 1G)
echo "attached /dev/$dev"
wait_state "$dev" empty
vaultctl list
check "vaultctl list shows /dev/$dev as empty" \
    bash -c "vaultctl list | grep -qE '^/dev/$dev +1.0G +empty '"

vaultctl format "$dev" --fs btrfs --label secure --key-file "$KEY_FILE"
check "the raw device starts with the LUKS magic" luks_magic "$dev"
check "the volume is locked after format" volume_is "$dev" locked

vaultctl unlock "/dev/$dev" --name storedev --mount /secure --key-file "$KEY_FILE"
check "/secure is mounted" mountpoint -q /secure
check "the mapping exists" test -b /dev/mapper/storedev
check "the volume reports mounted" volume_is "$dev" mounted
check "the filesystem inside is btrfs" test "$(volume_field "$dev" filesystemType)" = btrfs

marker="vaultd-lab-marker-$SRANDOM$SRANDOM-plaintext"
head -c 1M /dev/urandom >/secure/random.bin
printf '%s\n' "$marker" >/secure/marker.txt
before=$(cd /secure && sha256sum random.bin marker.txt)

vaultctl lock storedev
check "/secure is unmounted" bash -c "! mountpoint -q /secure"
check "/dev/mapper/storedev is gone" test ! -e /dev/mapper/storedev
check "no dm-crypt mapping remains" no_crypt_mapping
check "no volume key is left in the kernel keyrings" no_volume_key_in_kernel
check "the volume reports locked" volume_is "$dev" locked
check "the marker text is nowhere on the raw device" \
    bash -c "! grep -a -q -F '$marker' /dev/$dev"

vaultctl unlock "$dev" --name storedev --mount /secure --key-file "$KEY_FILE"
after=$(cd /secure && sha256sum random.bin marker.txt)
check "the data reads back with identical checksums" test "$before" = "$after"

lab_grow data 2G
vaultctl grow storedev </dev/null
check "/secure grew with its disk to about 2 GiB" test "$(fs_size /secure)" -ge $((1900 << 20))
check "and the data still reads back" \
    test "$before" = "$(cd /secure && sha256sum random.bin marker.txt)"
vaultctl lock "$dev"
check "locked again" volume_is "$dev" locked

lab_detach data
wait_gone "$dev"
check "the volume object is gone after detach" \
    bash -c "! busctl --system tree org.vaultd.Vault1 | grep -q 'volume/$dev\$'"
