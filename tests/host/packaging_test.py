#!/usr/bin/python3
"""The packages against what the build installs: every file 'meson install'
puts in a staging folder is claimed by exactly one Debian package
(packaging/debian/*.install) and by the RPM spec's %files, and neither claims
a file the build does not install; then the RPM source package builds from
the spec (packaging/build-srpm) and holds the spec and the source tarball.

    packaging_test.py SOURCE_ROOT BUILD_DIR
"""
import fnmatch
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# The spec's path macros, as Amazon Linux 2023 and Fedora define them; the
# systemd ones as systemd.pc says (here too: meson installs there).
RPM_MACROS = {
    "_bindir": "/usr/bin",
    "_libexecdir": "/usr/libexec",
    "_sysconfdir": "/etc",
    "_sharedstatedir": "/var/lib",
    "_datadir": "/usr/share",
    "_mandir": "/usr/share/man",
    "bash_completions_dir": "/usr/share/bash-completion/completions",
}

SYSTEMD_MACROS = {
    "_unitdir": "systemdsystemunitdir",
    "_systemdgeneratordir": "systemdsystemgeneratordir",
    "_sysusersdir": "sysusersdir",
    "_tmpfilesdir": "tmpfilesdir",
}

failures = []


def check(what, ok, detail=""):
    print(("ok: " if ok else "FAIL: ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def installed(build):
    """What meson installs: its files and empty folders, and every folder."""
    with tempfile.TemporaryDirectory() as stage:
        subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet",
                        "--destdir", stage], check=True, stdout=subprocess.DEVNULL)
        paths = list(Path(stage).rglob("*"))
        leaves = sorted("/" + str(p.relative_to(stage)) for p in paths
                        if not p.is_dir() or not any(p.iterdir()))
        folders = {"/" + str(p.relative_to(stage)) for p in paths if p.is_dir()}
        return leaves, folders


def debian_claims(source):
    claims = {}
    for install in sorted((Path(source) / "packaging/debian").glob("*.install")):
        package = install.name[:-len(".install")]
        for line in install.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                claims.setdefault("/" + line.split()[0], []).append(package)
    return claims


def rpm_claims(source):
    """Paths (as globs) under the spec's %files sections, with the package of each."""
    claims = {}
    package = None
    for line in (Path(source) / "packaging/rpm/vaultd.spec").read_text().splitlines():
        if line.startswith("%files"):
            package = line.split()[-1] if "-n" in line.split() else "vaultd"
            continue
        if line.startswith("%") and not line.startswith(("%{", "%config", "%attr", "%dir",
                                                         "%license")):
            package = None
        if package is None or not line.strip() or line.startswith("#"):
            continue
        if line.startswith("%license"):
            continue
        path = re.sub(r"^(%config\(noreplace\)|%dir( %attr\([^)]*\))?)\s+", "", line.strip())
        path = re.sub(r"%\{(\w+)\}", lambda m: RPM_MACROS[m.group(1)], path)
        claims.setdefault(path, []).append(package)
    return claims


def main(source, build):
    for macro, variable in SYSTEMD_MACROS.items():
        RPM_MACROS[macro] = subprocess.run(["pkg-config", f"--variable={variable}", "systemd"],
                                           capture_output=True, text=True,
                                           check=True).stdout.strip()
    files, folders = installed(build)
    check("meson install installs the daemon and the client",
          "/usr/libexec/vaultd" in files and "/usr/bin/vaultctl" in files)

    deb = debian_claims(source)
    for f in files:
        owners = deb.get(f, [])
        check(f"one Debian package holds {f}", len(owners) == 1, f"held by {owners}")
    for path in deb:
        check(f"the Debian packages claim only installed files: {path}", path in files)

    rpm = rpm_claims(source)
    dirs = {glob for glob in rpm if glob in folders}
    for f in files:
        owners = [p for glob, packages in rpm.items() if fnmatch.fnmatch(f, glob)
                  and (glob not in dirs or f == glob) for p in packages]
        check(f"one RPM package holds {f}", len(owners) == 1, f"held by {owners}")
    for glob in rpm:
        check(f"the spec claims only installed files and folders: {glob}",
              glob in folders or any(fnmatch.fnmatch(f, glob) for f in files))

    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run([os.path.join(source, "packaging/build-srpm"), out],
                             capture_output=True, text=True)
        check("packaging/build-srpm makes a source package", run.returncode == 0,
              run.stderr[-2000:])
        srpms = list(Path(out).glob("vaultd-*.src.rpm"))
        check("one .src.rpm", len(srpms) == 1)
        if srpms:
            listed = subprocess.run(["rpm", "-qpl", str(srpms[0])], capture_output=True,
                                    text=True, check=True).stdout.split()
            check("it holds the spec, the tarball and the sysusers file",
                  sorted(listed) == ["vaultd-0.1.0.tar.gz", "vaultd.spec", "vaultd.sysusers"],
                  str(listed))
    print(f"packaging: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
