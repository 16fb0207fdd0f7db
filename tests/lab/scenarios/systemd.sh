# lab-guest: init=systemd
# vaultd as an instance runs it: systemd as PID 1, the project installed with
# meson install, logind, dbus and polkitd started by systemd. The first
# vaultctl call starts vaultd through D-Bus activation. A configured volume
# with a key file is unlocked and mounted within 30 s of being attached with
# no command typed; a service with RequiresMountsFor= on its mount point,
# started before the disk is there, starts after it, and is stopped when the
# disk is detached; systemctl stop vaultd stops it again and locks the
# volume. A disk with the configured EBS id but another LUKS UUID is left
# locked.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
ensure_users

unit_is() {
    [[ $(systemctl is-active "$1") == "$2" ]]
}

check "vaultd is not running before anyone asks" bash -c '! systemctl --quiet is-active vaultd'
as_user ec2-user vaultctl list >list.txt
check "the first vaultctl call started vaultd (D-Bus activation)" unit_is vaultd.service active
check "vaultd runs as the installed unit" \
    test "$(systemctl show --property=ExecMainPID --value vaultd)" = "$(pgrep -x vaultd)"
check "vaultd is sandboxed in a mount namespace of its own (ProtectSystem=strict)" \
    test "$(readlink /proc/"$(pgrep -x vaultd)"/ns/mnt)" != "$(readlink /proc/1/ns/mnt)"
check "where the system is read-only" \
    nsenter --target "$(pgrep -x vaultd)" --mount sh -c '! touch /etc/vaultd/probe 2>/dev/null'

vol=vol0d5000000000000a1
volid=vol-0d5000000000000a1
dev=$(lab_attach sd 256M nvme "$vol")
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --label sddata --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
uuid=$(volume_field "$dev" luksUuid)
lab_detach sd
wait_gone "$dev"

mkdir -p /etc/vaultd/volumes.d /etc/vaultd/keys
install -m 0600 "$KEY_FILE" /etc/vaultd/keys/sd.key
cat >/etc/vaultd/volumes.d/sddata.toml <<TOML
[match]
ebs-volume-id = "$volid"
luks-uuid = "$uuid"

[unlock]
key = "keyfile"
key-file = "/etc/vaultd/keys/sd.key"

[mount]
point = "/secure/sd"
owner = "ec2-user"
TOML
vaultctl reload
cat >/etc/systemd/system/lab-consumer.service <<'UNIT'
[Unit]
Description=A service that needs the volume at /secure/sd
RequiresMountsFor=/secure/sd

[Service]
# $$ is systemd's escape for one $.
ExecStart=/bin/sh -c 'echo $$$$ > /secure/sd/consumer.pid; exec sleep infinity'
UNIT
# The generator reads the volume files, as the fstab generator reads fstab.
systemctl daemon-reload
systemctl cat secure-sd.mount
check "the generated mount unit requires the volume's unit" \
    bash -c "systemctl show --property=Requires --value secure-sd.mount | grep -q 'vault-volume@sddata.service'"
check "the service requires the generated mount unit" \
    bash -c "systemctl show --property=Requires --value lab-consumer.service | grep -q secure-sd.mount"

# Started before the disk is there: it waits.
systemctl start --no-block lab-consumer.service
check "the service waits for the volume" bash -c '! systemctl --quiet is-active lab-consumer'

mounted_at() {
    [[ $(findmnt --noheadings --output SOURCE "$1" 2>/dev/null) == /dev/mapper/sddata ]]
}
started=$(date +%s%N)
dev=$(lab_attach sd 256M nvme "$vol")
wait_for 30 mounted_at /secure/sd
took_ms=$((($(date +%s%N) - started) / 1000000))
echo "attach to mounted: $took_ms ms"
check "attached, it was mounted within 30 s, no command typed" test "$took_ms" -le 30000
wait_for 30 unit_is lab-consumer.service active
check "the service started after the volume was mounted" \
    test "$(cat /secure/sd/consumer.pid)" = "$(systemctl show --property=MainPID --value lab-consumer)"
check "vault-volume@sddata stands for it" unit_is vault-volume@sddata.service active
check "the fresh filesystem belongs to ec2-user" test "$(stat -c %U /secure/sd)" = ec2-user
check "the mount is the host's, and vaultd sees it too" \
    nsenter --target "$(pgrep -x vaultd)" --mount findmnt /secure/sd

# Detached: the service stops, the filesystem and the mapping go.
lab_detach sd
wait_for 30 unit_is lab-consumer.service inactive
check "detached, the service was stopped" unit_is lab-consumer.service inactive
wait_for 30 bash -c '! findmnt /secure/sd >/dev/null'
wait_for 30 no_crypt_mapping
check "vault-volume@sddata is stopped" bash -c '! systemctl --quiet is-active vault-volume@sddata'

# Attached again: open again; the service can start at once.
dev=$(lab_attach sd 256M nvme "$vol")
wait_for 30 mounted_at /secure/sd
systemctl start lab-consumer.service
check "the service runs on the volume again" unit_is lab-consumer.service active

# systemctl stop vaultd: the service first, then the volume is locked.
systemctl stop vaultd.service
check "stopping vaultd stopped the service" unit_is lab-consumer.service inactive
check "stopping vaultd unmounted the volume" bash -c '! findmnt /secure/sd >/dev/null'
check "stopping vaultd locked it" no_crypt_mapping
check "no volume key is left in the kernel" no_volume_key_in_kernel
journalctl --unit vaultd --output cat | tail -20

# The EBS id matches, the LUKS UUID does not: not the configured volume.
lab_detach sd
impostor=$(lab_attach impostor 256M nvme "$vol")
wait_state "$impostor" empty
vaultctl format "$impostor" --fs ext4 --label sddata --key-file "$KEY_FILE" >/dev/null
wait_state "$impostor" locked
vaultctl reload >/dev/null
check "a device with the EBS id and another LUKS UUID is left locked" volume_is "$impostor" locked
check "nothing depends on it" bash -c '! systemctl --quiet is-active vault-volume@sddata'

# Sandboxed, vaultd still names who holds a volume it will not lock (it
# reads other processes' /proc/PID/fd).
vaultctl unlock "$impostor" --key-file "$KEY_FILE" --mount=/secure/impostor >/dev/null
setpriv --reuid=ec2-user --regid=ec2-user --init-groups -- \
    /bin/bash -c 'cd /secure/impostor && exec sleep 600' &
holder=$!
wait_for 10 bash -c "[[ \$(readlink /proc/$holder/cwd) == /secure/impostor ]]"
vaultctl --json lock "$impostor" >busy.json 2>&1 || true
cat busy.json
check "lock is refused as busy, naming the process" grep -q "pid $holder (sleep)" busy.json
kill "$holder"
wait "$holder" 2>/dev/null || true  # killed: 143
vaultctl lock "$impostor" >/dev/null
lab_detach impostor
