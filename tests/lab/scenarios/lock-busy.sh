# Lock refuses while anything holds the volume, naming it (process id and
# name, and how), and changes nothing: an open file, a working directory, a
# device-mapper device stacked on the mapping. Bind mounts are unmounted
# with it, the last first. A lazy lock lets go of a held volume when its
# last user does, and says the key stays in the kernel until then.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

dev=$(lab_attach held 128M)
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE"
vaultctl unlock "$dev" --name held --mount /secure --key-file "$KEY_FILE"
wait_state "$dev" mounted
echo "kept" >/secure/file

# hold KIND: a process that keeps /secure busy until 'release' is called.
hold() {
    rm -f release-fifo holder.ready
    mkfifo release-fifo
    case $1 in
    file) python3 -c '
import sys
f = open("/secure/file")
open("holder.ready", "w").close()
open("release-fifo").read()
' & ;;
    cwd) (cd /secure && touch "$OLDPWD/holder.ready" && read -r _ <"$OLDPWD/release-fifo") & ;;
    esac
    holder=$!
    wait_for 10 test -e holder.ready
}
release() {
    echo go >release-fifo
    wait "$holder" || true
}

hold file
out=$(vaultctl --json lock "$dev" 2>&1) && fail "lock succeeded while a file was open: $out"
echo "$out"
check "Busy names the process and the open file" \
    grep -q "pid $holder (python3) has /secure/file open" <<<"$out"
check "still mounted and unlocked" volume_is "$dev" mounted
release

hold cwd
out=$(vaultctl --json lock "$dev" 2>&1) && fail "lock succeeded while a shell was in it: $out"
echo "$out"
check "Busy names the process working in it" grep -q "pid $holder (bash) works in /secure" <<<"$out"
check "still mounted" volume_is "$dev" mounted
release

# A device stacked on the mapping (an outside actor: dmsetup); a mounted
# filesystem would hold the mapping exclusively, so unmounted first.
vaultctl unmount "$dev"
wait_state "$dev" unlocked
dmsetup create stacked --table "0 $(blockdev --getsz /dev/mapper/held) linear /dev/mapper/held 0"
out=$(vaultctl --json lock "$dev" 2>&1) && fail "lock succeeded under a stacked device: $out"
echo "$out"
check "Busy names the stacked device" grep -q "device-mapper device 'stacked'" <<<"$out"
check "still unlocked with a device on top" volume_is "$dev" unlocked
dmsetup remove stacked
vaultctl mount "$dev" /secure
wait_state "$dev" mounted

# Bind mounts go with it.
mkdir -p /mnt/bind
mount --bind /secure /mnt/bind
vaultctl lock "$dev"
wait_state "$dev" locked
check "the bind mount is gone" bash -c '! mountpoint -q /mnt/bind'
check "the mount is gone" bash -c '! mountpoint -q /secure'
check "the mapping is gone" no_crypt_mapping

# Lazy: a held volume goes when its user lets go.
vaultctl unlock "$dev" --name held --mount /secure --key-file "$KEY_FILE"
wait_state "$dev" mounted
hold file
out=$(vaultctl lock --lazy "$dev")
echo "$out"
check "lazy lock says the key stays until the last user lets go" \
    grep -q "the key stays in the kernel until then" <<<"$out"
check "the mount is detached at once" bash -c '! mountpoint -q /secure'
check "the mapping waits for its user" test -e /dev/mapper/held
release
wait_for 10 no_crypt_mapping
check "the mapping went with its last user" no_crypt_mapping
check "no volume key is left" no_volume_key_in_kernel
wait_state "$dev" locked
lab_detach held
