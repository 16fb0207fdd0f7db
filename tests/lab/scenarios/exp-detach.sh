source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
dev=$(lab_attach gone 128M)
wait_state "$dev" empty
vaultctl format "$dev" --key-file "$KEY_FILE"
wait_state "$dev" locked
vaultctl unlock "$dev" --name gone --mount /secure --key-file "$KEY_FILE"
echo hello > /secure/f
(while true; do echo data >> /secure/f 2>/dev/null || break; done) &
writer=$!
lab_detach gone
sleep 2
echo "--- slaves"; ls -l /sys/block/dm-*/slaves/ 2>&1
echo "--- dm"; for d in /sys/block/dm-*; do echo $d $(cat $d/dm/name) $(cat $d/dm/uuid) $(cat $d/size) $(cat $d/dev); done
echo "--- holders"; ls -l /sys/block/dm-*/holders/ 2>&1
command -v dmsetup && dmsetup table && dmsetup info
echo "--- mounts"; grep secure /proc/self/mountinfo
echo "--- vaultctl"; vaultctl list
kill $writer 2>/dev/null || true
echo "--- log"; tail -20 "$LAB_VAULTD_LOG"
dmesg | tail -20
