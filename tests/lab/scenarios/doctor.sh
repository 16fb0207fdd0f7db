# vaultctl doctor on the guest: as root and as ec2-user (in the group vault)
# nothing is missing; intruder is told to join the group; with vaultd
# stopped, it says so and how to start it, and skips the memory check that
# needs vaultd's word; --json carries the same findings.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

ensure_users

# RESULT of CHECK in the JSON in file $1.
result_of() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1]))
print(next(c['result'] for c in d['checks'] if c['check'] == sys.argv[2]))" "$1" "$2"
}

vaultctl doctor | tee root.txt
for c in dm-crypt ciphers vaultd polkit group memory; do
    check "root: $c is ok" grep -q "^ok  *$c " root.txt
done
# The lab's configuration derives keys with pbkdf2: only the headroom.
check "the memory check names vaultd's 32 MiB need" \
    grep -q "unlocking a keyslot vaultd makes needs 32 MiB" root.txt

as_user ec2-user vaultctl doctor --json >member.json
check "ec2-user: the group is ok" test "$(result_of member.json group)" = ok
check "ec2-user: polkit is ok" test "$(result_of member.json polkit)" = ok
check "ec2-user: healthy" python3 -c "import json; assert json.load(open('member.json'))['ok']"

status=0
as_user intruder vaultctl doctor >intruder.txt || status=$?
cat intruder.txt
check "intruder: doctor exits 1" test "$status" -eq 1
check "intruder: the group is missing" grep -q "^missing  *group  *intruder is not in the group 'vault'" intruder.txt
check "intruder: the fix is usermod" grep -q "fix: sudo usermod -aG vault intruder, then log in again" intruder.txt

stop_vaultd_now
status=0
vaultctl doctor --json >stopped.json || status=$?
restart_vaultd
cat stopped.json
check "vaultd stopped: doctor exits 1" test "$status" -eq 1
check "vaultd stopped: vaultd is missing" test "$(result_of stopped.json vaultd)" = missing
check "vaultd stopped: memory is skipped" test "$(result_of stopped.json memory)" = skipped
check "vaultd stopped: the fix says how to start it" \
    grep -q '"fix": "sudo systemctl enable --now vaultd' stopped.json
