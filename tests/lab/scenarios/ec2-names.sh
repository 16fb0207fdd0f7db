# EC2's names for a volume: an NVMe disk with an EBS-style serial is found by
# its volume id in every spelling, and through the link EC2 images make, by
# every spelling of the name it was attached as. QEMU sets the serial but
# not the model, so vaultd-lab.conf counts QEMU's NVMe model as EBS; the
# model check itself is in the unit tests. Names that fit nothing, or more
# than one device, are refused by name, and nothing acts on them.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

vol=vol0123456789abcdef0
volid=vol-0123456789abcdef0

# What amazon-ec2-utils' udev rule does with ebsnvme-id's answer, for our
# serial only (QEMU's identify data has no requested name in it).
mkdir -p /run/udev/rules.d
cat >/run/udev/rules.d/70-lab-ebs.rules <<RULES
KERNEL=="nvme*n*", ENV{DEVTYPE}=="disk", ATTRS{serial}=="$vol", SYMLINK+="sdf", SYMLINK+="xvdf"
RULES
udevadm control --reload

dev=$(lab_attach ebs 128M nvme "$vol")
wait_state "$dev" empty
check "the link rule made /dev/sdf" test "$(readlink -f /dev/sdf)" = "/dev/$dev"

check "EbsVolumeId is $volid" test "$(volume_field "$dev" ebsVolumeId)" = "$volid"
check "RequestedName is sdf" test "$(volume_field "$dev" requestedName)" = sdf
check "Serial is the NVMe serial" test "$(volume_field "$dev" serial)" = "$vol"
check "Model is the controller's" test "$(volume_field "$dev" model)" = "QEMU NVMe Ctrl"
check "not ephemeral" test "$(volume_field "$dev" ephemeral)" = False
for spec in "$volid" "$vol" VOL-0123456789ABCDEF0 sdf /dev/sdf xvdf /dev/xvdf "$dev" "/dev/$dev"; do
    check "'$spec' names $dev" test "$(volume_field "$spec" kernelName)" = "$dev"
done
vaultctl status "$volid"
check "status shows the volume id" bash -c "vaultctl status $volid | grep -qx 'EbsVolumeId: $volid'"
check "list has the EBS columns" bash -c "vaultctl list | grep -E '^/dev/$dev +$volid +sdf '"

# The whole life of the volume by its EC2 names; the default mapping name is
# the volume id.
vaultctl format "$volid" --fs ext4 --label shared --key-file "$KEY_FILE"
wait_state "$dev" locked
vaultctl unlock xvdf --key-file "$KEY_FILE"
wait_state "$dev" unlocked
check "the mapping is named after the volume id" test -b "/dev/mapper/$volid"
check "the mapping name resolves too" \
    test "$(volume_field "/dev/mapper/$volid" kernelName)" = "$dev"
vaultctl lock sdf
wait_state "$dev" locked

# Nothing by that name: the closest candidates are named.
out=$(vaultctl status sdg 2>&1) && fail "sdg resolved: $out"
echo "$out"
check "a near miss names the volume that was attached as sdf" \
    grep -q "'sdg' not found; $dev was attached as sdf and is $volid" <<<"$out"
expect_error NoSuchDevice vaultctl --json unlock vol-0123456789abcdef1 --key-file "$KEY_FILE"

# A second disk with the same LUKS label: the label names neither, and a
# request by it touches nothing.
twin=$(lab_attach twin 128M virtio)
wait_state "$twin" empty
vaultctl format "$twin" --fs ext4 --label shared --key-file "$KEY_FILE"
wait_state "$twin" locked
expect_error Ambiguous vaultctl --json status shared
out=$(vaultctl unlock shared --key-file "$KEY_FILE" 2>&1) && fail "unlock shared worked: $out"
echo "$out"
check "the refusal lists both devices" \
    grep -q "/dev/$dev.*/dev/$twin\\|/dev/$twin.*/dev/$dev" <<<"$out"
check "and nothing was unlocked" no_crypt_mapping

# A copy of the volume beside it (as from a snapshot): the same LUKS UUID on
# two devices selects neither, and each still unlocks by its device.
copy=$(lab_attach copy 128M scsi)
dd if="/dev/$dev" of="/dev/$copy" bs=1M status=none conv=fsync
udevadm trigger --settle "/dev/$copy" 2>/dev/null || udevadm settle
wait_state "$copy" locked
uuid=$(volume_field "$dev" luksUuid)
check "the copy has the same LUKS UUID" test "$(volume_field "$copy" luksUuid)" = "$uuid"
wait_for 10 bash -c "vaultctl --json status /dev/$copy | grep -q '\"/dev/$dev\"'"
check "the copy names the original as its duplicate" \
    test "$(volume_field "/dev/$copy" duplicates)" = "['/dev/$dev']"
check "and the original the copy" test "$(volume_field "/dev/$dev" duplicates)" = "['/dev/$copy']"
expect_error Ambiguous vaultctl --json status "$uuid"
expect_error Ambiguous vaultctl --json unlock "$uuid" --name by-uuid --key-file "$KEY_FILE"
check "nothing was unlocked by the UUID" no_crypt_mapping
vaultctl unlock "/dev/$dev" --key-file "$KEY_FILE" --name original
vaultctl unlock "/dev/$copy" --key-file "$KEY_FILE" --name copy
wait_state "$dev" unlocked
wait_state "$copy" unlocked
check "the original is unlocked as original" test "$(volume_field "$dev" mappingName)" = original
check "the copy is unlocked as copy" test "$(volume_field "$copy" mappingName)" = copy
# Their filesystems have one UUID too: the kernel could not tell them apart.
vaultctl mount "/dev/$dev" /mnt/original
expect_error DuplicateFilesystemUuid vaultctl --json mount "/dev/$copy" /mnt/copy
check "the copy was not mounted" volume_is "$copy" unlocked
vaultctl lock "/dev/$copy"
vaultctl lock "/dev/$dev"
wait_state "$dev" locked
wait_state "$copy" locked
check "no mapping is left" no_crypt_mapping

lab_detach copy
lab_detach twin
lab_detach ebs
wait_gone "$dev"
rm -f /run/udev/rules.d/70-lab-ebs.rules
udevadm control --reload
