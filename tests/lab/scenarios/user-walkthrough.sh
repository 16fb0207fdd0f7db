# ec2-user, a member of the group vault, runs the whole walkthrough without
# sudo and without a password prompt, non-interactively as SSH or cron would,
# and owns the mounted filesystem.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

ensure_users
dev=$(lab_attach userdata 512M)
wait_state "$dev" empty

as_user ec2-user vaultctl format "$dev" --fs ext4 --key-file - <"$KEY_FILE"
wait_state "$dev" locked
as_user ec2-user vaultctl unlock "$dev" --name userdev --mount /secure --key-file - <"$KEY_FILE"
check "/secure is mounted" mountpoint -q /secure
check "ec2-user owns /secure" test "$(stat -c %U /secure)" = ec2-user
check "vaultd knows ec2-user unlocked it" \
    test "$(volume_field "$dev" unlockedBy)" = "$(id -u ec2-user)"

as_user ec2-user bash -c 'head -c 1M /dev/urandom >/secure/data.bin && echo hello >/secure/note'
before=$(cd /secure && sha256sum data.bin note)
check "the files belong to ec2-user" test "$(stat -c %U /secure/data.bin)" = ec2-user

as_user ec2-user vaultctl lock userdev
check "locked: /secure unmounted" bash -c "! mountpoint -q /secure"
check "no dm-crypt mapping remains" no_crypt_mapping

as_user ec2-user vaultctl unlock "$dev" --name userdev --mount /secure --key-file - <"$KEY_FILE"
after=$(cd /secure && sha256sum data.bin note)
check "the data reads back identical" test "$before" = "$after"
check "still owned by ec2-user" test "$(stat -c %U /secure)" = ec2-user
as_user ec2-user vaultctl lock "$dev"
check "locked again" volume_is "$dev" locked
