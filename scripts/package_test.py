#!/usr/bin/env python3
"""The Debian package, installed and run as systemd would run it, on a machine without systemd.

scripts/test.sh calls this after building target/debian/doorman_*.deb. As root it:
  1. installs the package with dpkg and checks what landed where (binary, unit, config, man
     page, completions) and that systemd-analyze accepts the unit;
  2. runs the unit's own ExecStartPre and ExecStart lines the way the unit asks: as an
     unprivileged user with only CAP_NET_BIND_SERVICE (DynamicUser + AmbientCapabilities),
     a 0700 state directory (StateDirectory) and a NOTIFY_SOCKET, binding a port under 1024;
  3. waits for READY=1, proxies a request to a loopback origin, checks the data files' modes,
     asks `doorman health` (the container's HEALTHCHECK);
  4. runs the unit's ExecReload with $MAINPID: a good config gives RELOADING=1 then READY=1 and
     takes effect; a broken one is rejected and the old config keeps serving;
  5. sends SIGTERM (the unit's KillSignal): STOPPING=1 and a clean exit;
  6. purges the package and checks it is gone.
Without root, or where systemd runs (installing would start the real service), it says so and
checks only the package's contents list.
"""

import http.server
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

UNIT = "/usr/lib/systemd/system/doorman.service"
CONFIG = "/etc/doorman/doorman.toml"
# What the unit's DynamicUser gives: an unprivileged uid/gid. nobody stands in for it.
SERVICE_UID = 65534
SERVICE_GID = 65534

failures = []


def check(ok, what):
    # Notices are newline-separated KEY=VALUE lines; one report line per check reads better.
    what = " ".join(what.split("\n")).strip()
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def free_port(below_1024=False):
    if below_1024:
        # A privileged port nobody on a test machine serves; proves CAP_NET_BIND_SERVICE works.
        for port in range(1001, 1024):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
        raise SystemExit("package_test: no free port under 1024")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unit_lines(key):
    """Every value of KEY= in the installed unit, in order."""
    with open(UNIT) as f:
        return [line.split("=", 1)[1].strip() for line in f if line.startswith(key + "=")]


class Notices:
    """A NOTIFY_SOCKET, as systemd's manager has: collects each datagram the service sends."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)  # the service runs as another user
        self.messages = []
        self.lock = threading.Lock()
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self):
        while True:
            data = self.sock.recv(4096).decode()
            with self.lock:
                self.messages.append(data)

    def wait_for(self, needle, after=0, timeout=15):
        """The first message at index >= after containing needle, and its index."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for i, m in enumerate(self.messages[after:], start=after):
                    if needle in m:
                        return i, m
            time.sleep(0.05)
        with self.lock:
            return None, "; ".join(self.messages)

    def count(self):
        with self.lock:
            return len(self.messages)


class Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from the origin\n"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def expand(line, config):
    """A unit command line as systemd would run it, with our config path instead of /etc's."""
    return [config if a == CONFIG else a for a in shlex.split(line)]


def as_service_user(argv):
    """argv run as the unit runs it: unprivileged, with only the ambient bind capability."""
    return [
        "setpriv",
        f"--reuid={SERVICE_UID}",
        f"--regid={SERVICE_GID}",
        "--clear-groups",
        "--inh-caps=-all,+net_bind_service",
        "--ambient-caps=-all,+net_bind_service",
        "--bounding-set=-all,+net_bind_service",
        "--no-new-privs",
    ] + argv


def installed_files(deb):
    listing = run(["dpkg-deb", "--contents", deb]).stdout
    for path in [
        "./usr/bin/doorman",
        "./etc/doorman/doorman.toml",
        "./usr/lib/systemd/system/doorman.service",
        "./usr/share/man/man1/doorman.1.gz",
        "./usr/share/bash-completion/completions/doorman",
        "./usr/share/zsh/vendor-completions/_doorman",
        "./usr/share/fish/vendor_completions.d/doorman.fish",
        "./usr/share/doc/doorman/install.md",
    ]:
        check(path in listing, f"the package holds {path}")
    conffiles = run(["dpkg-deb", "--info", deb, "conffiles"]).stdout
    check(CONFIG in conffiles, f"{CONFIG} is a conffile (an upgrade keeps local edits)")


def service_run(work):
    state = os.path.join(work, "state")
    os.mkdir(state, 0o700)
    os.chown(state, SERVICE_UID, SERVICE_GID)  # what StateDirectory= does
    listen = free_port(below_1024=True)
    admin = free_port()
    origin_a = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=origin_a.serve_forever, daemon=True).start()

    with open(CONFIG) as f:
        packaged = f.read()
    config = os.path.join(work, "doorman.toml")

    def write_config(text):
        with open(config, "w") as f:
            f.write(text)
        os.chmod(config, 0o644)

    # The packaged config, with this test's ports and state directory.
    ours = (
        packaged.replace('"/var/lib/doorman"', f'"{state}"')
        .replace('"0.0.0.0:8080"', f'"127.0.0.1:{listen}"')
        .replace('"127.0.0.1:9090"', f'"127.0.0.1:{admin}"')
        .replace('"127.0.0.1:3000"', f'"127.0.0.1:{origin_a.server_address[1]}"')
    )
    check(ours != packaged, "the packaged config has the keys this test adapts")
    write_config(ours)
    os.chmod(work, 0o755)

    for line in unit_lines("ExecStartPre"):
        r = run(as_service_user(expand(line, config)))
        check(r.returncode == 0, f"ExecStartPre `{line}` passes: {r.stdout.strip()} {r.stderr.strip()}")

    notices = Notices(work)
    (start_line,) = unit_lines("ExecStart")
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notices.path}
    log = open(os.path.join(work, "service.log"), "w")
    proc = subprocess.Popen(as_service_user(expand(start_line, config)), env=env, stdout=log, stderr=log)
    try:
        i, ready = notices.wait_for("READY=1")
        check(i is not None, f"READY=1 after start (got: {ready})")
        check("STATUS=serving on 1 listener" in (ready or ""), f"a status line with the ready notice ({ready})")

        status, body, headers = get(f"http://127.0.0.1:{listen}/")
        check(status == 200 and "hello from the origin" in body,
              f"a request through the gateway on privileged port {listen} reaches the origin ({status})")
        check("doorman-ray" in {k.lower() for k in headers}, "the proxied answer carries a Ray ID")

        for name in ["doorman.db", "admin.token"]:
            path = os.path.join(state, name)
            if os.path.exists(path):
                mode = stat.S_IMODE(os.stat(path).st_mode)
                check(mode == 0o600, f"{name} is 0600 (is {oct(mode)})")
                check(os.stat(path).st_uid == SERVICE_UID, f"{name} belongs to the service user")
            else:
                check(False, f"{name} was created in the state directory")
        mode = stat.S_IMODE(os.stat(state).st_mode)
        check(mode == 0o700, f"the state directory stays 0700 (is {oct(mode)})")

        r = run(["/usr/bin/doorman", "health", "--config", config])
        check(r.returncode == 0 and "healthy" in r.stdout, f"`doorman health` passes while serving: {r.stdout.strip()} {r.stderr.strip()}")

        # A good reload: a second route answers from another origin.
        origin_b = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
        threading.Thread(target=origin_b.serve_forever, daemon=True).start()
        write_config(ours + f'\n[[upstreams]]\nname = "b"\ntargets = ["127.0.0.1:{origin_b.server_address[1]}"]\n'
                     '\n[[routes]]\nname = "retired"\npath_prefix = "/retired"\nupstream = "b"\naccess = "closed"\n'
                     'title = "Retired"\nreason = "This part of the site was switched off."\n')
        status, _, _ = get(f"http://127.0.0.1:{listen}/retired")
        check(status == 200, f"before the reload /retired is proxied ({status})")
        (reload_line,) = unit_lines("ExecReload")
        before = notices.count()
        argv = [str(proc.pid) if a == "$MAINPID" else a for a in shlex.split(reload_line)]
        check(run(argv).returncode == 0, f"ExecReload `{reload_line}` runs")
        i, msg = notices.wait_for("RELOADING=1", after=before)
        check(i is not None and "MONOTONIC_USEC=" in msg, f"RELOADING=1 with MONOTONIC_USEC ({msg})")
        j, msg = notices.wait_for("READY=1", after=(i or before))
        check(j is not None and "configuration reloaded" in msg, f"READY=1 after the reload ({msg})")
        status, body, _ = get(f"http://127.0.0.1:{listen}/retired")
        check(status != 200 and "switched off" in body, f"the reloaded config is in force ({status})")

        # A broken reload: rejected, the running config stays.
        write_config(ours.replace("[[routes]]", "[[routes]\n", 1))
        before = notices.count()
        run(argv)
        j, msg = notices.wait_for("READY=1", after=before)
        check(j is not None and "reload rejected" in msg, f"a broken file: READY=1 with 'reload rejected' ({msg})")
        status, body, _ = get(f"http://127.0.0.1:{listen}/retired")
        check(status != 200 and "switched off" in body, "after a rejected reload the previous config still serves")

        before = notices.count()
        proc.send_signal(signal.SIGTERM)
        i, msg = notices.wait_for("STOPPING=1", after=before)
        check(i is not None, f"STOPPING=1 on SIGTERM ({msg})")
        check(proc.wait(timeout=40) == 0, "a clean exit after SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    if failures:
        with open(os.path.join(work, "service.log")) as f:
            print("--- the service's log:\n" + f.read()[-4000:])


def main():
    debs = sys.argv[1:]
    if len(debs) != 1:
        raise SystemExit("usage: scripts/package_test.py target/debian/doorman_VERSION_ARCH.deb")
    deb = debs[0]
    installed_files(deb)
    if os.geteuid() != 0:
        print("package_test: not root, so the package was not installed and run (CI runs as root)")
        return 1 if failures else 0
    if os.path.isdir("/run/systemd/system") and os.environ.get("DOORMAN_PACKAGE_TEST_INSTALL") != "1":
        # Where systemd runs, installing would start the real service on :8080 and :9090.
        print("package_test: systemd runs here, so the package was not installed "
              "(DOORMAN_PACKAGE_TEST_INSTALL=1 installs it anyway, and starts the service)")
        return 1 if failures else 0

    r = run(["dpkg", "-i", deb])
    check(r.returncode == 0, f"dpkg -i installs the package: {r.stderr.strip()[-500:]}")
    try:
        check(os.access("/usr/bin/doorman", os.X_OK), "/usr/bin/doorman is installed")
        version = run(["/usr/bin/doorman", "--version"]).stdout
        check(re.search(r"\(commit [0-9a-f]{7,}", version) is not None, f"--version names the commit: {version.strip()}")
        check(os.path.exists(UNIT), f"{UNIT} is installed")
        r = run(["systemd-analyze", "verify", UNIT])
        # On a machine without a running systemd, verify still parses every directive; it may
        # only complain that it cannot talk to a manager.
        problems = [l for l in (r.stderr + r.stdout).splitlines() if l.strip() and "Failed to connect" not in l]
        check(not problems, f"systemd-analyze verify accepts the unit ({problems})")
        with tempfile.TemporaryDirectory(prefix="doorman-package-") as work:
            service_run(work)
    finally:
        r = run(["dpkg", "--purge", "doorman"])
        check(r.returncode == 0, f"dpkg --purge removes the package: {r.stderr.strip()[-300:]}")
        check(not os.path.exists("/usr/bin/doorman") and not os.path.exists(UNIT), "nothing is left in /usr/bin or the unit directory")
    print(f"package_test: {'FAILED: ' + str(len(failures)) if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
