# lab-guest: memory=4G vaultd-config=vaultd-kdf.conf
# Memory-safe key derivation, part one, on a 4 GiB instance: volumes
# formatted with vaultd's default argon2id get a keyslot whose memory is
# capped for the smallest instance (512 MiB: a quarter, 128 MiB, and two
# threads), not what this machine could give. One of them also gets a
# keyslot that needs 1 GiB, added with cryptsetup as an administrator on a
# big machine might. The disks are carried to kdf-small, a 512 MiB guest.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

big_key=$PWD/big-passphrase
printf '%s' 'a keyslot for large machines only' >"$big_key"

for n in 1 2 3 4; do
    dev=$(lab_attach_carried "kdf$n" 256M virtio)
    wait_state "$dev" empty
    vaultctl format "$dev" --fs ext4 --label "kdf$n" --key-file "$KEY_FILE" >/dev/null
    wait_state "$dev" locked
    vaultctl unlock "$dev" --name "kdf$n" --mount --key-file "$KEY_FILE" >/dev/null
    echo "carried volume kdf$n" >"/media/vault/kdf$n/marker"
    vaultctl lock "$dev" >/dev/null
    devs+=("$dev")
done

dev=${devs[0]}
vaultctl keyslot list "$dev"
slot0() {
    vaultctl --json keyslot list "$dev" |
        python3 -c "import json,sys; s=json.load(sys.stdin)['keyslots'][0]; print(s['$1'])"
}
check "keyslot 0 is argon2id" test "$(slot0 pbkdf)" = argon2id
check "its memory is capped at a quarter of 512 MiB, not this machine's" \
    test "$(slot0 memoryKib)" -le 131072
check "and its threads at two" test "$(slot0 parallel)" -le 2
check "status shows the keyslot's cost" \
    bash -c "vaultctl status $dev | grep -E '^Keyslot 0: keyfile, argon2id, [0-9.]+ MiB'"

# What a large machine may add: 1 GiB of argon2id memory.
cryptsetup luksAddKey --batch-mode --key-file "$KEY_FILE" --pbkdf argon2id \
    --pbkdf-memory 1048576 --pbkdf-parallel 1 --pbkdf-force-iterations 4 \
    "/dev/$dev" "$big_key"
check "the 1 GiB keyslot is listed with its cost" \
    bash -c "vaultctl --json keyslot list $dev | grep -q '\"memoryKib\": *1048576'"
vaultctl unlock "$dev" --name kdf1 --key-file "$big_key" >/dev/null
check "here, with 4 GiB, the 1 GiB keyslot opens the volume" volume_is "$dev" unlocked
vaultctl lock "$dev" >/dev/null

for n in 1 2 3 4; do
    lab_detach "kdf$n"
done
