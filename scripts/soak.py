#!/usr/bin/env python3
"""The soak behind docs/reliability.md's "Soak" section, run by scripts/soak.

The release ssobar-app runs against a release ssobar-fake-aws with 30-minute sessions, both
(and every ssobar helper) on one libfaketime clock running 60 times as fast as the wall clock:
ten wall minutes are ten hours of the app's life (`--speed 1`: the real clock, ten real hours).
Meanwhile:

- session `renew` (refreshable) is refreshed silently by the app every quarter of an hour;
  every two hours its refresh tokens are revoked, so the next refresh is refused and the session
  expires, with its two notices;
- session `short` (no sso_registration_scopes) is seeded without a refresh token and expires
  after half an hour, with its two notices (its sign-in through the app registers with the
  default scope, so from then on it is refreshed and revoked as `renew` is);
- five minutes after either expires, `ssobar credential-process` asks the app over the channel,
  and the app signs in with the browser (curl following the redirects);
- every ten minutes `~/.aws/config` is rewritten (atomically, with a change), and a warm
  `ssobar credential-process` runs;
- every hour the window is opened by a second launch and closed (WM_DELETE_WINDOW, as a window
  manager's close button sends).

Each simulated hour it samples the app (and its children): RSS, open descriptors, threads,
inotify watches. At the end it prints the table and the notices, and fails when RSS grew by
more than 5 MB after the first hour, when descriptors, threads or watches grew, or when an
expiry notice is missing or shown twice.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

SPEED = 60
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
TOKEN_LIFETIME = 30 * 60
ROLE_CREDENTIALS_LIFETIME = 10 * 60
WARNING = 15 * 60
HOUR = 3600
RSS_GROWTH_KB = 5 * 1024
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(text):
    print(f"soak: {text}", file=sys.stderr, flush=True)


class Clock:
    """The shared fake clock: a holder process creates libfaketime's shared memory, whose start
    time every faked process (started with its FAKETIME_SHARED) then shares."""

    def __init__(self):
        env = dict(os.environ, LD_PRELOAD=LIBFAKETIME, FAKETIME=f"+0 x{SPEED}")
        env.pop("FAKETIME_SHARED", None)
        self.holder = subprocess.Popen(
            [sys.executable, "-c",
             "import os, sys; print(os.environ['FAKETIME_SHARED'], flush=True); sys.stdin.read()"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.shared = self.holder.stdout.readline().strip()
        if not self.shared:
            raise SystemExit("soak: libfaketime made no shared clock")
        self.env = {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": f"+0 x{SPEED}",
                    "FAKETIME_SHARED": self.shared}
        before = time.monotonic()
        out = subprocess.run(["date", "+%s.%N"], env=dict(os.environ, **self.env),
                             capture_output=True, text=True, check=True).stdout
        after = time.monotonic()
        self.sim0, self.mono0 = float(out), (before + after) / 2

    def now(self):
        return self.sim0 + SPEED * (time.monotonic() - self.mono0)

    def check(self):
        """The faked `date` against this clock's reckoning, in simulated seconds."""
        out = subprocess.run(["date", "+%s.%N"], env=dict(os.environ, **self.env),
                             capture_output=True, text=True, check=True).stdout
        return float(out) - self.now()

    def stop(self):
        self.holder.stdin.close()
        self.holder.wait(timeout=10)


class RealClock:
    """Speed 1: nothing to fake, every process runs on the real clock without libfaketime."""

    env = {}

    def now(self):
        return time.time()

    def check(self):
        return 0.0

    def stop(self):
        pass


def utc(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


class Soak:
    def __init__(self, args):
        self.args = args
        self.bin = args.bin
        self.work = tempfile.mkdtemp(prefix="ssobar-soak.")
        self.home = os.path.join(self.work, "home")
        for d in (".aws/sso/cache", ".config", ".cache", ".local/share", ".local/state"):
            os.makedirs(os.path.join(self.home, d), exist_ok=True)
        os.makedirs(os.path.join(self.home, ".run"), mode=0o700, exist_ok=True)
        self.procs = []
        self.samples = []
        self.notices = {}  # dunst id -> (simulated time seen, summary)
        self.expiries = {"renew": set(), "short": set()}  # expiries that passed unrenewed
        self.seen = {"renew": set(), "short": set()}  # every expiry a token file had
        self.helpers = {}  # session -> running helper
        self.asked = {}  # session -> the expiry a helper last asked the app about
        self.helper_runs = {"channel": 0, "warm": 0, "failed": 0, "not signed in": 0}
        self.config_edits = 0
        self.window_opens = 0
        self.hung_launches = []  # simulated times of second launches that never returned
        self.launch = None  # the second launch in flight: (process, wall start, simulated start)
        self.revocations = 0

    # --- processes -------------------------------------------------------------------------

    def env(self, extra=None):
        keep = ("PATH", "DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS", "LANG", "TZ", "NO_AT_BRIDGE")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        h = self.home
        env.update(HOME=h, XDG_CONFIG_HOME=f"{h}/.config", XDG_CACHE_HOME=f"{h}/.cache",
                   XDG_DATA_HOME=f"{h}/.local/share", XDG_STATE_HOME=f"{h}/.local/state",
                   XDG_RUNTIME_DIR=f"{h}/.run", NO_COLOR="1")
        env.update(self.clock.env)
        env.update(self.endpoints)
        env.update(extra or {})
        return env

    def start_fake(self):
        config = os.path.join(self.work, "fake.json")
        with open(config, "w") as f:
            # Role credentials outlive no sign-in: a helper five minutes after an expiry
            # finds none stored it could still use, and must ask the app.
            json.dump({"access_token_lifetime_seconds": TOKEN_LIFETIME,
                       "role_credentials_lifetime_seconds": ROLE_CREDENTIALS_LIFETIME}, f)
        self.endpoints = {}
        out = open(os.path.join(self.work, "fake.env"), "w+")
        self.fake = subprocess.Popen([f"{self.bin}/ssobar-fake-aws", "--config", config],
                                     env=self.env(), stdout=out,
                                     stderr=open(os.path.join(self.work, "fake.log"), "w"))
        self.procs.append(self.fake)
        for _ in range(200):
            out.seek(0)
            lines = out.read()
            if "SSOBAR_FAKE_AWS_URL" in lines:
                break
            time.sleep(0.05)
        else:
            raise SystemExit("soak: ssobar-fake-aws did not start")
        for line in lines.splitlines():
            name, value = line.removeprefix("export ").split("=", 1)
            self.endpoints[name] = value
        self.url = self.endpoints.pop("SSOBAR_FAKE_AWS_URL")

    def admin(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return json.loads(text) if text else None

    def write_config(self):
        """~/.aws/config, written as an editor would: a temp file beside it, then a rename."""
        n = self.config_edits
        text = (f"# edited {n} times by the soak\n"
                f"[sso-session renew]\nsso_start_url = {self.url}/start\nsso_region = us-east-1\n"
                "sso_registration_scopes = sso:account:access\n\n"
                f"[sso-session short]\nsso_start_url = {self.url}/start\nsso_region = us-east-1\n\n"
                "[profile renew-dev]\nsso_session = renew\nsso_account_id = 111122223333\n"
                f"sso_role_name = ReadOnlyAccess\nregion = {('eu-west-1', 'eu-west-2')[n % 2]}\n\n"
                "[profile short-dev]\nsso_session = short\nsso_account_id = 111122223333\n"
                "sso_role_name = ReadOnlyAccess\nregion = eu-west-1\n")
        path = os.path.join(self.home, ".aws/config")
        tmp = path + ".soak-tmp"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def token_path(self, session):
        return os.path.join(self.home, ".aws/sso/cache", hashlib.sha1(session.encode()).hexdigest() + ".json")

    def seed(self, session, scopes):
        issued = self.admin("/_fake/sessions", {"start_url": f"{self.url}/start", "scopes": scopes,
                                                "lifetime_seconds": TOKEN_LIFETIME})
        token = {"startUrl": issued["start_url"], "region": issued["region"],
                 "accessToken": issued["access_token"],
                 "expiresAt": utc(int(self.clock.now()) + TOKEN_LIFETIME),
                 "clientId": issued["client_id"], "clientSecret": issued["client_secret"],
                 "registrationExpiresAt": utc(int(self.clock.now()) + 90 * 86400)}
        if issued.get("refresh_token"):
            token["refreshToken"] = issued["refresh_token"]
        tmp = self.token_path(session) + ".soak-tmp"
        with open(tmp, "w") as f:
            json.dump(token, f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.token_path(session))

    def expires_at(self, session):
        try:
            with open(self.token_path(session)) as f:
                return parse_utc(json.load(f)["expiresAt"])
        except (OSError, ValueError, KeyError):
            return None

    def start_app(self):
        browser = os.path.join(self.work, "browser.sh")
        with open(browser, "w") as f:
            f.write('#!/bin/sh\nexec curl -fsS -L -o /dev/null "$1"\n')
        os.chmod(browser, 0o755)
        self.app_env = self.env({"BROWSER": browser, "SSOBAR_ON_SIGN_IN_REQUEST": "browser"})
        self.app = subprocess.Popen([f"{self.bin}/ssobar-app"], env=self.app_env,
                                    stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(self.work, "app.log"), "w"))
        self.procs.append(self.app)
        for _ in range(600):
            if '"tray-icon tray app ssobar"' in xtree():
                return
            if self.app.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"soak: the app showed no tray icon; its log:\n{self.app_log()}")

    def app_log(self):
        with open(os.path.join(self.work, "app.log"), errors="replace") as f:
            return "".join(f.readlines()[-30:])

    # --- the scenario's actions --------------------------------------------------------------

    def helper(self, session, why):
        """`ssobar credential-process` for the session's profile, in the background."""
        env = self.env({"SSOBAR_SIGN_IN_WAIT": "1800"})
        # A helper lives for a moment: it starts at the shared clock's time and runs at the
        # wall clock's pace, so that its calls to daemons off the fake clock (the Secret
        # Service over D-Bus) keep their real timeouts instead of a sixtieth of them.
        if "FAKETIME_SHARED" in env:
            del env["FAKETIME_SHARED"]
            env.update(FAKETIME_FMT="%s", FAKETIME=f"@{int(self.clock.now())}")
        p = subprocess.Popen([f"{self.bin}/ssobar", "credential-process", "--profile", f"{session}-dev"],
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.helpers[session] = (p, why)

    def reap_helpers(self):
        for session, (p, why) in list(self.helpers.items()):
            if p.poll() is None:
                continue
            out, err = p.communicate()
            del self.helpers[session]
            if p.returncode == 0 and '"AccessKeyId"' in out:
                self.helper_runs[why] += 1
                if why == "channel" and self.expires_at(session) == self.asked.get(session):
                    self.helper_runs["not signed in"] += 1
            else:
                self.helper_runs["failed"] += 1
                log(f"credential-process for {session} ({why}) exited {p.returncode}: {err.strip()}")

    def open_window(self):
        # A second launch hands over to the running app, which opens its window. It is waited
        # for in the loop (reap_launch), so that one which hangs does not stop the rest.
        if self.launch is not None:
            return
        self.launch = (subprocess.Popen([f"{self.bin}/ssobar-app"], env=self.app_env, stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.work, "second-launch.log"), "a")),
                       time.monotonic(), self.clock.now())

    def reap_launch(self):
        if self.launch is None:
            return
        second, started, at = self.launch
        if second.poll() is not None:
            self.window_opens += 1
            self.launch = None
        elif time.monotonic() - started > 60:
            second.kill()
            second.wait()
            self.hung_launches.append(at)
            log(f"a second launch did not return within a wall minute (window shown: {window_shown()})")
            self.launch = None

    def close_window(self):
        # As a window manager's close button does; the test suite's own script.
        closed = subprocess.run([sys.executable, os.path.join(ROOT, "tests/peers/close_window.py"),
                                 "ssobar", "ssobar-app"], capture_output=True, text=True)
        if closed.returncode != 0:
            log("no window to close")

    def harvest_notices(self):
        """Closes what dunst shows (it keeps only closed notifications in its history, 20 of
        them), then takes the history's new entries."""
        subprocess.run(["dunstctl", "close-all"], check=False)
        out = subprocess.run(["dunstctl", "history"], capture_output=True, text=True).stdout
        now = self.clock.now()
        for group in json.loads(out or '{"data": []}')["data"]:
            for n in group:
                nid = n["id"]["data"]
                if nid not in self.notices:
                    self.notices[nid] = (now, n["summary"]["data"])

    def sample(self, hour):
        tree = descendants(self.app.pid)
        children = [p for p in tree if p != self.app.pid]
        status = proc_status(self.app.pid)
        s = {
            "hour": hour,
            "app_rss_kb": status.get("VmRSS", 0),
            "children_rss_kb": sum(proc_status(p).get("VmRSS", 0) for p in children),
            "children": sorted(proc_name(p) for p in children),
            "fds": count_fds(self.app.pid),
            "threads": status.get("Threads", 0),
            "watches": count_watches(self.app.pid),
            "fd_kinds": fd_kinds(self.app.pid),
            "thread_names": thread_names(self.app.pid),
        }
        self.samples.append(s)
        log(f"hour {hour}: app {s['app_rss_kb'] / 1024:.1f} MB, children {s['children_rss_kb'] / 1024:.1f} MB "
            f"({', '.join(s['children']) or 'none'}), fds {s['fds']}, threads {s['threads']}, "
            f"watches {s['watches']}; drift {self.clock.check():+.0f} s")

    # --- the run -----------------------------------------------------------------------------

    def run(self):
        self.clock = Clock() if SPEED > 1 else RealClock()
        self.start_fake()
        self.write_config()
        self.seed("renew", ["sso:account:access"])
        self.seed("short", [])
        self.start_app()
        start = self.clock.now()
        hours = self.args.hours
        end = start + hours * HOUR
        log(f"app {self.app.pid} in the tray; {hours} simulated hours from {utc(start)}")
        next_edit, next_warm, next_harvest = start + 300, start + 420, start + 60
        next_sample, next_open, next_close = start, start + 1200, start + 1500
        next_revoke = start + 5820  # between two silent refreshes
        last = {"renew": None, "short": None}
        while True:
            now = self.clock.now()
            if self.app.poll() is not None:
                raise SystemExit(f"soak: the app exited ({self.app.returncode}); its log:\n{self.app_log()}")
            self.reap_helpers()
            self.reap_launch()
            for session in ("renew", "short"):
                at = self.expires_at(session)
                last[session] = at
                self.seen[session].add(at)
                if at is not None and now > at + 60 and at > start:
                    self.expiries[session].add(at)
                # Five minutes after it expired, a helper asks the app to sign in.
                if at is not None and now > at + 300 and session not in self.helpers \
                        and self.asked.get(session) != at:
                    self.asked[session] = at
                    self.helper(session, "channel")
            if now >= next_sample:
                self.sample(round((next_sample - start) / HOUR))
                next_sample += HOUR
                if next_sample > end + 1:
                    break
            if now >= next_edit:
                self.config_edits += 1
                self.write_config()
                next_edit += 600
            if now >= next_warm:
                # Only on a valid session: one that expired is left for its notices.
                at = last["renew"]
                if at and at - now > 120 and "renew" not in self.helpers:
                    self.helper("renew", "warm")
                next_warm += 600
            if now >= next_revoke:
                self.admin("/_fake/revoke-refresh-tokens", {})
                self.revocations += 1
                next_revoke += 2 * HOUR
            if now >= next_open:
                self.open_window()
                next_open += HOUR
            if now >= next_close:
                self.close_window()
                next_close += HOUR
            if now >= next_harvest:
                self.harvest_notices()
                next_harvest += 60
            time.sleep(0.2)
        self.end = self.clock.now()
        time.sleep(1)
        self.harvest_notices()
        self.start = start
        return self.report()

    def report(self):
        print()
        print("| hour | app RSS | children RSS | fds | threads | inotify watches |")
        print("|---|---|---|---|---|---|")
        for s in self.samples:
            print(f"| {s['hour']} | {s['app_rss_kb'] / 1024:.1f} MB | {s['children_rss_kb'] / 1024:.1f} MB "
                  f"| {s['fds']} | {s['threads']} | {s['watches']} |")
        print()
        print(f"config edits {self.config_edits}, window opened and closed {self.window_opens} times, "
              f"refresh tokens revoked {self.revocations} times, helper runs: "
              f"{self.helper_runs['channel']} signed in through the app, {self.helper_runs['warm']} warm, "
              f"{self.helper_runs['failed']} failed")
        problems = []
        # Under libfaketime not a failure of the app's: the standard library's futex deadlines,
        # taken from the faked clock, never come (docs/reliability.md, "Soak"). On the real clock
        # a hung launch is the app's.
        for t in self.hung_launches:
            if SPEED == 1:
                problems.append(f"a second launch (to open the window) hung at {utc(t)}")
            else:
                log(f"note: a second launch (to open the window) hung at {utc(t)} under libfaketime "
                    "and was killed after a wall minute")
        if self.helper_runs["failed"]:
            problems.append(f"{self.helper_runs['failed']} helper run(s) failed")
        if self.helper_runs["not signed in"]:
            problems.append(f"{self.helper_runs['not signed in']} helper run(s) after an expiry did not sign in")
        base = next((s for s in self.samples if s["hour"] == 1), None)
        if base is None:
            problems.append("no sample after the first hour: run for 2 hours or more")
        else:
            last = self.samples[-1]
            rss = lambda s: s["app_rss_kb"] + s["children_rss_kb"]
            grew = rss(last) - rss(base)
            print(f"RSS (app and children) from hour 1 to hour {last['hour']}: {grew / 1024:+.1f} MB")
            if grew > RSS_GROWTH_KB:
                problems.append(f"RSS grew by {grew / 1024:.1f} MB after the first hour")
            for key, detail in (("fds", "fd_kinds"), ("threads", "thread_names"), ("watches", None)):
                if last[key] > base[key]:
                    more = ""
                    if detail:
                        diff = {k: last[detail].get(k, 0) - base[detail].get(k, 0)
                                for k in set(last[detail]) | set(base[detail])}
                        more = ": " + ", ".join(f"{k} {v:+d}" for k, v in sorted(diff.items()) if v)
                    problems.append(f"{key} grew from {base[key]} (hour 1) to {last[key]} (hour {last['hour']}){more}")
        problems += self.check_notices()
        for p in problems:
            print(f"FAILED: {p}")
        if not problems:
            print("every goal met")
        return 1 if problems else 0

    def check_notices(self):
        """Each expiry that passed unrenewed, and only those, has one "expires in" notice about a
        quarter of an hour before it and one "expired" notice at it."""
        problems = []
        print()
        print("| session | expiries | \"expires in\" notices | \"expired\" notices |")
        print("|---|---|---|---|")
        seen = sorted(self.notices.values())
        matched = set()
        for session, expiries in self.expiries.items():
            # Only expiries the app had the time to see before the end.
            expiries = sorted(e for e in expiries if e < self.end - 120)
            soon = [(t, s) for t, s in seen if s.startswith(f"SSO session {session} expires in")]
            gone = [(t, s) for t, s in seen if s == f"SSO session {session} expired"]
            for e in expiries:
                for kind, notes, lo, hi in (("expires in", soon, e - WARNING - 90, e - WARNING + 240),
                                           ("expired", gone, e - 30, e + 240)):
                    hits = [n for n in notes if lo <= n[0] <= hi]
                    matched.update(hits)
                    if len(hits) != 1:
                        problems.append(f"{session}: {len(hits)} \"{kind}\" notice(s) for the expiry at {utc(e)}")
            print(f"| {session} | {len(expiries)} | {len(soon)} | {len(gone)} |")
        for t, s in seen:
            about = re.match(r"SSO session (\S+) (expires in|expired)", s)
            if (t, s) in matched or not about:
                continue
            # A notice about an expiry after the end (the run stopped before it was checked).
            ahead = t + WARNING if about[2] == "expires in" else t
            if any(e >= self.end - 120 and abs(e - ahead) <= 300 for e in self.seen.get(about[1], ())):
                continue
            problems.append(f"a notice for no expiry: {s!r} at {utc(t)}")
        return problems

    def stop(self):
        for p, _ in self.helpers.values():
            p.kill()
        if self.launch is not None:
            self.launch[0].kill()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if hasattr(self, "clock"):
            self.clock.stop()
        if self.args.keep:
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def window_shown():
    # Mapped: a closed window is kept, hidden, for the next opening.
    out = subprocess.run(["xwininfo", "-name", "ssobar"], capture_output=True, text=True).stdout
    return "Map State: IsViewable" in out


def xtree():
    return subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True).stdout


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "Threads"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def proc_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def descendants(root):
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    tree, frontier = [root], [root]
    while frontier:
        frontier = [p for p, pp in parents.items() if pp in frontier]
        tree += frontier
    return tree


def count_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def fd_kinds(pid):
    """How many of the process's descriptors are of each kind (socket, pipe, anon_inode:[eventfd], a file's folder)."""
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = re.sub(r"\[\d+\]$", "", target) if ":" in target else os.path.dirname(target)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def thread_names(pid):
    names = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        names[name] = names.get(name, 0) + 1
    return names


def count_watches(pid):
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                total += sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:
            pass
    return total


def main():
    global SPEED
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=10,
                        help="simulated hours to run (default 10)")
    parser.add_argument("--speed", type=int, default=SPEED,
                        help="how many times as fast as the wall clock the app's clock runs (default "
                             "60, under libfaketime; 1 runs on the real clock, without it)")
    parser.add_argument("--bin", required=True, help="the folder of the release binaries")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, HOME)")
    args = parser.parse_args()
    SPEED = max(1, args.speed)
    soak = Soak(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        code = soak.run()
    finally:
        soak.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
