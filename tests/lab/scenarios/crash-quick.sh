# The crash scenario's checks on 3 rounds (18 kills), for every test run;
# its 9 rounds (54 kills) are the scenario crash (see there).
CRASH_ROUNDS=3
source "$(dirname "${BASH_SOURCE[0]}")/crash.sh"
