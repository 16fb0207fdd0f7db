# Benchmark (tests/bench/run), not a test: does vaultd grow as it works?
# Unlock-mount-lock cycles on one loop device (pbkdf2 at 1000 iterations,
# ext4), each two calls on the bus (Unlock with mount, Lock) from one
# long-lived python3-dbus client, or vaultctl where python3-dbus is
# missing. vaultd's resident and proportional set size (smaps_rollup) and
# its open descriptors after 50 cycles and after BENCH_CYCLES (default
# 1000; set in the environment of tests/bench/run, which hands it to the
# guest in $LAB_OUT/bench.env), and the growth between the two in percent;
# and how long a cycle takes (about 1.2 s under TCG: 1000 cycles take some
# 20 minutes, longer than the lab's default scenario timeout, which
# tests/bench/run raises). Prints "bench: NAME VALUE UNIT".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"

bench_settings
CYCLES=${BENCH_CYCLES:-1000}
WARM=50
((CYCLES > WARM)) || fail "BENCH_CYCLES must be more than $WARM"

truncate -s 64M bench.img
loop=$(losetup -f --show bench.img)
dev=${loop#/dev/}
wait_state "$dev" empty
vaultctl format "$dev" --fs ext4 --key-file "$KEY_FILE" >/dev/null
wait_state "$dev" locked
pid=$(pgrep -x vaultd)

# cycles.py DEV KEYFILE PID WARM CYCLES: the cycles, with vaultd's figures
# after WARM and after CYCLES as "NAME VALUE" lines.
cat >cycles.py <<'PY'
import os, subprocess, sys, time

dev, key_file, pid, warm, cycles = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
key = open(key_file, "rb").read()

try:
    import dbus
    bus = dbus.SystemBus()
    def proxy(path, interface):
        return dbus.Interface(bus.get_object("org.vaultd.Vault1", path, introspect=False), interface)
    volume = proxy(proxy("/org/vaultd/Vault1", "org.vaultd.Vault1.Manager").Resolve(dev),
                   "org.vaultd.Vault1.Volume")
    mount = dbus.Dictionary({"mount": dbus.Boolean(True)}, signature="sv")
    nothing = dbus.Dictionary({}, signature="sv")

    def cycle():
        r, w = os.pipe()
        os.write(w, key)
        os.close(w)
        try:
            volume.Unlock(dbus.types.UnixFd(r), "benchmem", mount, timeout=120)
        finally:
            os.close(r)
        volume.Lock(nothing, timeout=120)
    print("cycles through python3-dbus", flush=True)
except ImportError:
    def cycle():
        subprocess.run(["vaultctl", "unlock", dev, "--name", "benchmem", "--mount",
                        "--key-file", key_file], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["vaultctl", "lock", "benchmem"], check=True, stdout=subprocess.DEVNULL)
    print("cycles through vaultctl (python3-dbus is missing)", flush=True)

def figures():
    # A descriptor may be open for a moment after a call (udev's, the
    # bus's): the fewest of five looks, a fifth of a second apart.
    fds = []
    for _ in range(5):
        fds.append(len(os.listdir(f"/proc/{pid}/fd")))
        time.sleep(0.2)
    with open(f"/proc/{pid}/smaps_rollup") as f:
        rollup = {line.split(":")[0]: line.split()[1] for line in f if ":" in line}
    return int(rollup["Rss"]), int(rollup["Pss"]), min(fds)

started = time.monotonic()
paused = 0.0  # in figures(), not cycling
for i in range(1, cycles + 1):
    cycle()
    if i == warm:
        at_warm = figures()
        warm_done = time.monotonic()
        paused = 0.0
    if i % 100 == 0:
        t = time.monotonic()
        rss, pss, fds = figures()
        paused += time.monotonic() - t
        print(f"after {i} cycles: rss {rss} KiB, pss {pss} KiB, {fds} descriptors,"
              f" {time.monotonic() - started:.0f} s", flush=True)
at_end = figures()
per_cycle = (time.monotonic() - warm_done - paused) / (cycles - warm) * 1000
for name, unit, before, after in zip(("rss", "pss", "fds"), ("KiB", "KiB", "descriptors"),
                                     at_warm, at_end):
    print(f"bench: memory-{name}-{warm} {before} {unit}")
    print(f"bench: memory-{name}-{cycles} {after} {unit}")
    print(f"bench: memory-{name}-growth {(after - before) / before * 100:.1f} %")
print(f"bench: memory-cycle {per_cycle:.0f} ms")
PY
python3 cycles.py "$dev" "$KEY_FILE" "$pid" "$WARM" "$CYCLES"
check "vaultd is still the same process" test "$(pgrep -x vaultd)" = "$pid"
check "the volume is locked" volume_is "$dev" locked
losetup -D
