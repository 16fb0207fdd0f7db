# Configured volumes: a file in /etc/vaultd/volumes.d names a volume by its
# EBS volume id and label, with a key file only root may read, a mount point
# and an owner. Attached, the volume is unlocked and mounted within 30 s with
# no command typed, its fresh filesystem given to the owner, and
# ConfiguredVolumeUnlocked announced. A device with the same label and
# another EBS id is left alone. A broken file is reported with its line and
# stops nothing else. A key file others may read is refused, logged once and
# shown in status; after a reload vaultd tries again. Stopping vaultd locks
# what it unlocked.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
ensure_users

vol=vol0cf600000000000a1
volid=vol-0cf600000000000a1
dev=$(lab_attach cfg 256M nvme "$vol")
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --label cfgdata --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
lab_detach cfg
wait_gone "$dev"

mkdir -p /etc/vaultd/volumes.d /etc/vaultd/keys
install -m 0600 "$KEY_FILE" /etc/vaultd/keys/cfg.key
cat >/etc/vaultd/volumes.d/cfg.toml <<TOML
[match]
ebs-volume-id = "$volid"
label = "cfgdata"

[unlock]
key = "keyfile"
key-file = "/etc/vaultd/keys/cfg.key"
name = "cfgdata"

[mount]
point = "/secure/cfg"
owner = "ec2-user"
TOML
printf 'this = is not\n[toml\n' >/etc/vaultd/volumes.d/broken.toml
vaultctl --json reload >reload.json
cat reload.json
check "the good file is in force" grep -q '"cfg"' reload.json
check "the broken one is reported with its line" grep -q 'broken.toml:1: ' reload.json

dbus-monitor --system "type='signal',interface='org.vaultd.Vault1.Manager'" >signals.txt 2>&1 &
monitor=$!
mounted_at_secure() {
    findmnt --noheadings --output SOURCE /secure/cfg >/dev/null
}
started=$(date +%s%N)
dev=$(lab_attach cfg 256M nvme "$vol")
wait_for 30 mounted_at_secure
took_ms=$((($(date +%s%N) - started) / 1000000))
echo "attach to mounted: $took_ms ms"
check "attached, it was mounted within 30 s, no command typed" test "$took_ms" -le 30000
wait_state "$dev" mounted
check "at the configured mount point" test "$(volume_field "$dev" mountPoint)" = /secure/cfg
check "under the configured mapping name" test "$(volume_field "$dev" mappingName)" = cfgdata
check "its fresh filesystem belongs to the owner" test "$(stat -c %U /secure/cfg)" = ec2-user
check "status names the configuration" \
    bash -c "vaultctl status $dev | grep -qE '^Configuration: +cfg'"
signalled() {
    grep -q ConfiguredVolumeUnlocked signals.txt
}
wait_for 10 signalled
check "ConfiguredVolumeUnlocked was announced" signalled
kill "$monitor"

# The same label on another EBS volume: not the configured one.
impostor=$(lab_attach impostor 256M nvme vol0cf600000000000b2)
wait_state "$impostor" empty
vaultctl format "$impostor" --fs ext4 --label cfgdata --key-file "$KEY_FILE" >/dev/null
wait_state "$impostor" locked
vaultctl reload >/dev/null
check "a device with the label but another EBS id is left locked" volume_is "$impostor" locked
lab_detach impostor

# A key file others may read: refused, logged once, shown in status.
vaultctl lock "$dev" >/dev/null
chmod 0644 /etc/vaultd/keys/cfg.key
lab_detach cfg
wait_gone "$dev"
dev=$(lab_attach cfg 256M nvme "$vol")
wait_state "$dev" locked
has_error() {
    [[ $(volume_field "$dev" configurationError) == *"readable by root alone"* ]]
}
wait_for 30 has_error
vaultctl status "$dev"
check "the refusal shows in status" \
    bash -c "vaultctl status $dev | grep -q 'readable by root alone'"
check "it stays locked" volume_is "$dev" locked
# Scans come and go (a udev trigger makes some); the failure is not retried.
udevadm trigger --action=change "/dev/$dev"
udevadm settle
vaultctl list >/dev/null
check "the failure is logged once" \
    test "$(grep -c "configured volume 'cfg' on '/dev/$dev' was not unlocked" "$LAB_VAULTD_LOG")" = 1

chmod 0600 /etc/vaultd/keys/cfg.key
vaultctl reload >/dev/null
wait_for 30 mounted_at_secure
check "fixed and reloaded, vaultd opened it" volume_is "$dev" mounted
echo "written before the stop" >/secure/cfg/marker
sync

# Stopping vaultd locks what it unlocked.
stop_vaultd_now
check "stopped, vaultd unmounted it" bash -c '! findmnt /secure/cfg >/dev/null'
check "and closed the mapping" test ! -e /dev/mapper/cfgdata
check "no volume key is left in the kernel" no_volume_key_in_kernel
restart_vaultd
wait_for 30 mounted_at_secure
check "started again, vaultd opens the attached configured volume" \
    grep -qx 'written before the stop' /secure/cfg/marker
vaultctl lock "$dev" >/dev/null
rm -f /etc/vaultd/volumes.d/cfg.toml /etc/vaultd/volumes.d/broken.toml
vaultctl reload >/dev/null
