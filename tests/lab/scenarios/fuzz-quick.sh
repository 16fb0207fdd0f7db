# The bus fuzzer's checks on a shorter run, for every test run; the full
# 10,000 calls are the scenario fuzz (see there).
FUZZ_CALLS=1000
source "$(dirname "${BASH_SOURCE[0]}")/fuzz.sh"
