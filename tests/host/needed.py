#!/usr/bin/python3
"""needed.py BINARY SONAME...: fails when BINARY names any SONAME in its
dynamic section's NEEDED entries (readelf -d), which would map it, and all it
depends on, at start instead of on first use."""
import re
import subprocess
import sys


def main(binary, sonames):
    out = subprocess.run(["readelf", "-d", binary], check=True, capture_output=True,
                         text=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    if not needed:
        print(f"needed: no NEEDED entries read from {binary}", file=sys.stderr)
        return 1
    print(f"needed: {binary}: {' '.join(needed)}")
    linked = [s for s in sonames if s in needed]
    for soname in linked:
        print(f"needed: {binary} links {soname}, which it should load on first use",
              file=sys.stderr)
    return 1 if linked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
