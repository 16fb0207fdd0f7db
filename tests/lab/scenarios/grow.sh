# Grow online: for ext4, xfs and btrfs, a mounted 1 GiB volume that is being
# written to grows with its disk to 2 GiB. vaultd notices the new capacity
# (GrowableBy), `vaultctl grow` enlarges the mapping and the filesystem
# without asking for the passphrase, the filesystem then offers about
# 2 GiB, and every file written before and during the growth reads back
# with its checksum after the volume is locked and opened again. A second
# grow changes nothing and says so. ec2-user, in the group vault, grows the
# xfs one: no sudo.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
ensure_users

growable_by() {
    volume_field "$1" growableBy
}
has_grown_device() {
    (($(growable_by "$1") > 0))
}
written_more_than() {
    (($(written) > $1))
}

for fs in ext4 xfs btrfs; do
    dev=$(lab_attach "grow-$fs" 1G virtio)
    wait_state "$dev" empty
    vaultctl format "$dev" --fs "$fs" --key-file "$KEY_FILE" >/dev/null
    wait_state "$dev" locked
    vaultctl unlock "$dev" --name "grow-$fs" --mount --key-file "$KEY_FILE" >/dev/null
    at=/media/vault/grow-$fs
    before=$(fs_size "$at")
    check "$fs: a volume that fills its disk has nothing to grow" test "$(growable_by "$dev")" = 0

    start_writer "$at"
    wait_for 60 written_more_than 7
    lab_grow "grow-$fs" 2G
    wait_for 30 has_grown_device "$dev"
    check "$fs: the new capacity is seen: Size is 2 GiB" test "$(volume_field "$dev" size)" = $((2 << 30))
    check "$fs: and GrowableBy says by how much (1 GiB)" test "$(growable_by "$dev")" = $((1 << 30))

    written_before=$(written)
    if [[ $fs == xfs ]]; then
        out=$(as_user ec2-user vaultctl grow "$dev" </dev/null)
    else
        out=$(vaultctl grow "$dev" </dev/null)
    fi
    echo "$out"
    wait_for 60 written_more_than "$written_before"
    stop_writer
    after=$(fs_size "$at")
    echo "$fs: df size $before -> $after bytes; $(written) files written, $written_before before the grow"
    check "$fs: vaultctl reports the mapping and the filesystem grew" \
        grep -q "^grew /dev/$dev: mapping 1008.0M -> 2.0G, filesystem" <<<"$out"
    check "$fs: the filesystem now offers about 2 GiB" test "$after" -ge $((1900 << 20))
    check "$fs: and it is more than it was" test "$after" -gt "$before"
    check "$fs: nothing is left to grow" test "$(growable_by "$dev")" = 0
    check "$fs: the writer never failed" test "$(written)" -lt 1600

    json=$(vaultctl --json grow "$dev")
    echo "$json"
    check "$fs: a second grow changes nothing" \
        python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(r["changed"] or any(l["before"] != l["after"] for l in r["layers"]))' "$json"
    out=$(vaultctl grow "$dev")
    check "$fs: and says so" grep -q "^no change: /dev/$dev fills its device already" <<<"$out"

    vaultctl lock "grow-$fs" >/dev/null
    check "$fs: locking leaves no key in the kernel" no_volume_key_in_kernel
    vaultctl unlock "$dev" --name "grow-$fs" --mount --key-file "$KEY_FILE" >/dev/null
    check "$fs: every file written reads back with its checksum" verify_written "$at"
    check "$fs: reopened, the filesystem still offers about 2 GiB" test "$(fs_size "$at")" -ge $((1900 << 20))
    vaultctl lock "grow-$fs" >/dev/null
    lab_detach "grow-$fs"
done
check "no mapping is left" no_crypt_mapping
