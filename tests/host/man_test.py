#!/usr/bin/python3
"""vaultctl(1) against vaultctl itself: every command, every option and every
exit status that 'vaultctl --help' and 'vaultctl COMMAND --help' list is in the
manual page, and each page renders without a warning from groff.

    man_test.py VAULTCTL MANDIR SCDOC_SOURCE_DIR
"""
import re
import subprocess
import sys
from pathlib import Path

failures = []


def check(what, ok):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def helptext(vaultctl, *words):
    return subprocess.run([vaultctl, *words, "--help"], capture_output=True, text=True,
                          check=True).stdout


def commands(vaultctl, *parent):
    text = helptext(vaultctl, *parent)
    section = text.split("Subcommands:", 1)[1].split("\n\n", 1)[0] if "Subcommands:" in text else ""
    return re.findall(r"^  ([a-z-]+)\s", section, re.M)


def main(vaultctl, mandir, sources):
    page = (Path(sources) / "vaultctl.1.scd").read_text()
    for command in commands(vaultctl):
        nested = commands(vaultctl, command)
        for full in [f"{command} {n}" for n in nested] or [command]:
            check(f"vaultctl(1) describes '{full}'", f"*{full}*" in page)
            for option in re.findall(r"^\s+(?:-\w,)?(--[a-z-]+)", helptext(vaultctl, *full.split()),
                                     re.M):
                if option != "--help":
                    check(f"vaultctl(1) shows '{full} {option}'", f"*{option}*" in page)
    for code, meaning in re.findall(r"^  (\d+)  (.+)$", helptext(vaultctl), re.M):
        check(f"vaultctl(1) lists exit status {code}", f"*{code}*\t" in page)

    for roff in sorted(Path(mandir).glob("*.[158]")):
        rendered = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(roff)],
                                  capture_output=True, text=True)
        check(f"{roff.name} renders without warnings",
              rendered.returncode == 0 and not rendered.stderr.strip())
        if rendered.stderr.strip():
            print(rendered.stderr)
    print(f"man: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
