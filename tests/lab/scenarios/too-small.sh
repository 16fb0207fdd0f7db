# btrfs and xfs on devices too small for them once the LUKS header is taken
# off are refused before anything is written.
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

small=$(lab_attach small 120M)
wait_state "$small" empty
before=$(fingerprint "$small")
expect_error TooSmall vaultctl --json format "$small" --fs btrfs --key-file "$KEY_FILE"
expect_error TooSmall vaultctl --json format "$small" --fs xfs --key-file "$KEY_FILE"
check "nothing was written" test "$before" = "$(fingerprint "$small")"
check "still empty" volume_is "$small" empty

tiny=$(lab_attach tiny 8M)
wait_state "$tiny" empty
expect_error TooSmall vaultctl --json format "$tiny" --fs ext4 --key-file "$KEY_FILE"

fits=$(lab_attach fits 130M)
wait_state "$fits" empty
vaultctl format "$fits" --fs btrfs --key-file "$KEY_FILE"
check "btrfs fits in 130 MiB" luks_magic "$fits"
