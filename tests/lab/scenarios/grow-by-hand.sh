# A volume opened by hand (cryptsetup, whose key goes to the kernel keyring
# and nowhere vaultd can reach) cannot be grown without the passphrase, even
# under the name of a mapping vaultd once opened and locked:
# Grow says CredentialRequired and changes nothing (vaultctl with no terminal
# says so too); `vaultctl grow` then asks for the passphrase on the terminal,
# or reads --key-file, and the volume grows. From then on vaultd holds the
# key, and the next growth asks nothing.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach byhand 512M virtio)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
# Unlocked through vaultd under the same name first: locking must forget
# the key it kept, or the grow below would need no passphrase.
vaultctl unlock "$dev" --name byhand --key-file "$KEY_FILE" >/dev/null
vaultctl lock "$dev" >/dev/null
cryptsetup open --key-file "$KEY_FILE" "/dev/$dev" byhand
mkdir -p /mnt/byhand
mount /dev/mapper/byhand /mnt/byhand
wait_for 10 volume_is "$dev" mounted
mapping_before=$(blockdev --getsize64 /dev/mapper/byhand)

lab_grow byhand 1G
expect_error CredentialRequired vaultctl --json grow "$dev" </dev/null
check "nothing changed: the mapping is as it was" \
    test "$(blockdev --getsize64 /dev/mapper/byhand)" = "$mapping_before"

shown=$(on_tty "$(cat "$KEY_FILE")" vaultctl grow "$dev")
echo "$shown"
check "vaultctl asked for the passphrase" grep -q "Passphrase for /dev/$dev" <<<"$shown"
check "and grew the volume" grep -q "grew /dev/$dev: mapping 496.0M -> 1008.0M" <<<"$shown"
check "the mapping fills the disk" test "$(blockdev --getsize64 /dev/mapper/byhand)" = $((1008 << 20))
check "the filesystem grew with it" test "$(fs_size /mnt/byhand)" -ge $((900 << 20))

lab_grow byhand 1536M
out=$(vaultctl grow "$dev" </dev/null)
echo "$out"
check "the next growth needs no passphrase: vaultd kept the key" \
    grep -q "grew /dev/$dev: mapping 1008.0M -> 1.5G" <<<"$out"

# Another, grown with a key file: a wrong one first.
other=$(lab_attach byhand2 512M virtio)
wait_state "$other" empty
vaultctl format "$other" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$other" locked
cryptsetup open --key-file "$KEY_FILE" "/dev/$other" byhand2
wait_state "$other" unlocked
lab_grow byhand2 1G
expect_error WrongPassphrase vaultctl --json grow "$other" --key-file "$WRONG_KEY"
check "a wrong passphrase changes nothing" \
    test "$(blockdev --getsize64 /dev/mapper/byhand2)" = $((496 << 20))
out=$(vaultctl grow "$other" --key-file "$KEY_FILE")
echo "$out"
check "the right key file grows it, unmounted, offline" \
    grep -q "grew /dev/$other: mapping 496.0M -> 1008.0M, filesystem 496.0M -> 1008.0M" <<<"$out"
cryptsetup close byhand2
lab_detach byhand2

umount /mnt/byhand
vaultctl lock "$dev" >/dev/null
check "locking leaves no key in the kernel" no_volume_key_in_kernel
lab_detach byhand
