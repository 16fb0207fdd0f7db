# A storm: 20 disks attached at once and detached at once, five times in a
# row, as fast as QMP takes them; two of them carry LUKS volumes that are
# unlocked (one mounted) when they go. Every add and remove is reflected,
# no volume object or mapping is left over, and vaultd's resident memory
# comes back to within 10 % of where it was before the storm. SCSI would be
# the quicker bus to plug, but QEMU's virtio-scsi answers a burst of new
# LUNs with unit attentions and the kernel may then size a disk at 0
# bytes; virtio-blk disks always arrive whole.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

COUNT=20
ROUNDS=5

count_volumes() {
    vaultctl --json list | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}
count_objects() {
    busctl --system --json=short call org.vaultd.Vault1 /org/vaultd/Vault1 \
        org.freedesktop.DBus.ObjectManager GetManagedObjects |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)["data"][0]))'
}
volumes_are() {
    [[ $(count_volumes) == "$1" ]]
}
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$(pidof vaultd)/status"
}

# The two LUKS volumes, made once; their images outlive each detach.
for i in 0 1; do
    dev=$(lab_attach "s$i" 64M virtio)
    wait_state "$dev" empty
    vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
    wait_state "$dev" locked
    lab_detach "s$i"
    wait_gone "$dev"
done

base_volumes=$(count_volumes)
base_objects=$(count_objects)
rss_before=$(rss_kib)
pid=$(pidof vaultd)
echo "before the storm: $base_volumes volumes, $base_objects objects, VmRSS $rss_before kB"

for round in $(seq "$ROUNDS"); do
    start=$(date +%s%N)
    lab_storm_attach s "$COUNT" 64M virtio
    wait_for 60 volumes_are $((base_volumes + COUNT))
    check "round $round: all $COUNT disks are volumes" volumes_are $((base_volumes + COUNT))
    attached=$(date +%s%N)

    d0=$(lab__disk_with_serial virtio s0)
    d1=$(lab__disk_with_serial virtio s1)
    vaultctl unlock "$d0" --name storm0 --mount --key-file "$KEY_FILE" >/dev/null
    vaultctl unlock "$d1" --name storm1 --key-file "$KEY_FILE" >/dev/null

    lab_storm_detach s "$COUNT" virtio
    wait_for 60 volumes_are "$base_volumes"
    check "round $round: every removal is reflected" volumes_are "$base_volumes"
    wait_for 10 no_crypt_mapping
    check "round $round: no mapping is left" no_crypt_mapping
    check "round $round: no volume object is left" test "$(count_objects)" = "$base_objects"
    check "round $round: nothing is left mounted" \
        bash -c '! grep -q /media/vault/storm /proc/self/mounts'
    done_at=$(date +%s%N)
    echo "round $round: attach seen in $(((attached - start) / 1000000)) ms," \
        "removal seen $(((done_at - attached) / 1000000)) ms later; VmRSS $(rss_kib) kB"
done

check "vaultd is the same process" test "$(pidof vaultd)" = "$pid"
check "no volume key is left" no_volume_key_in_kernel
rss_end=$(rss_kib)
echo "VmRSS: $rss_before kB before the storm, $rss_end kB at the end"
check "VmRSS is within 10 % of where it was before the storm" \
    test $((rss_end * 100)) -le $((rss_before * 110))
