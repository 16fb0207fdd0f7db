# lab-guest: memory=512M vaultd-config=vaultd-kdf.conf
# Memory-safe key derivation, part two, on a 512 MiB instance, with the
# disks kdf-format made on a 4 GiB one: the default keyslot opens; the
# 1 GiB keyslot is refused with InsufficientMemory (naming the slot, the
# need and the remedy) before any derivation, and the cheaper slot still
# works; four volumes attached at once all unlock.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

big_key=$PWD/big-passphrase
printf '%s' 'a keyslot for large machines only' >"$big_key"

mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
check "this guest has about 512 MiB" test "$mem_kib" -lt $((600 << 10))

dev=$(lab_attach_carried kdf1 256M virtio)
wait_state "$dev" locked
out=$(vaultctl --json unlock "$dev" --name kdf1 --key-file "$big_key" 2>&1) && status=0 || status=$?
echo "$out"
check "the 1 GiB keyslot is refused" test "$status" -ne 0
check "with InsufficientMemory" grep -q 'org.vaultd.Vault1.Error.InsufficientMemory' <<<"$out"
check "naming the slot and its need" grep -q 'keyslot 1 needs 1.0 GiB' <<<"$out"
check "and the remedy" grep -q 'add a keyslot that needs less memory' <<<"$out"
check "nothing was opened" volume_is "$dev" locked
check "no dm-crypt mapping exists" no_crypt_mapping

vaultctl unlock "$dev" --name kdf1 --mount --key-file "$KEY_FILE" >/dev/null
check "the volume's default keyslot opens it here" volume_is "$dev" mounted
check "its data came along" grep -qx 'carried volume kdf1' /media/vault/kdf1/marker
vaultctl lock "$dev" >/dev/null

# Three more attached together; all four unlocked at once.
devs=("$dev")
for n in 2 3 4; do
    devs+=("$(lab_attach_carried "kdf$n" 256M virtio)")
done
for d in "${devs[@]}"; do
    wait_state "$d" locked
done
pids=()
for n in 1 2 3 4; do
    vaultctl unlock "${devs[n - 1]}" --name "kdf$n" --mount --key-file "$KEY_FILE" \
        >"unlock$n.out" 2>&1 &
    pids+=($!)
done
failed=0
for n in 1 2 3 4; do
    wait "${pids[n - 1]}" || { failed=1; cat "unlock$n.out"; }
done
check "four volumes unlocked at once in 512 MiB all opened" test "$failed" = 0
for n in 1 2 3 4; do
    check "kdf$n's data reads back" grep -qx "carried volume kdf$n" "/media/vault/kdf$n/marker"
    vaultctl lock "${devs[n - 1]}" >/dev/null
done
check "vaultd is still running" pgrep -x vaultd
