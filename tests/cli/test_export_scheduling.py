"""The three documented ways to schedule the weekly export, each test-run for real.

Every variant runs its documented command line in a separate process against a copy of a
deployment laid out as the docs assume (/srv/cadence with .venv and cadence.toml, a token file,
an output share), with paths swapped for temp ones and ``CADENCE_NOW`` in its environment so the
test does not depend on the date (the command lines run as documented). The configured source is PagerDuty, served by the fake on 127.0.0.1, so
``--sync`` runs a real collector before the export.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.fake_pagerduty import FakePagerDuty, serve
from tests.cli.test_export import TEAMS_TOML, read_csv, seed

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
TODAY = "2026-11-25"          # a Wednesday in 2026-W48: the last complete week is 2026-W47
PINNED = {"CADENCE_NOW": f"{TODAY}T06:00:00Z"}   # "now" for every documented command line run here
FILES = ["cadence-changes-2026-W47.csv", "cadence-metrics-2026-W47.csv"]
TOKEN = "pd-schedule-token-0123456789"

pytestmark = pytest.mark.slow


@pytest.fixture
def deployment(tmp_path):
    """/srv/cadence, /etc/cadence/cadence.env and /srv/share/cadence, as temp directories."""
    fake = FakePagerDuty(token=TOKEN)
    fake.add("PINC1", "2026-11-21T10:00:00Z", status="resolved", resolved_at="2026-11-21T11:00:00Z")
    server, url = serve(fake)
    proj = tmp_path / "srv-cadence"
    (proj / "data").mkdir(parents=True)
    os.symlink(VENV, proj / ".venv")
    seed(proj / "data" / "cadence.duckdb")
    (proj / "cadence.toml").write_text(
        'database = "data/cadence.duckdb"\n' + TEAMS_TOML
        + f'\n[sources.pagerduty]\nbase_url = "{url}"\nsince = "2026-11-01"\n'
          '[sources.pagerduty.services]\nPSVC1 = "api"\n', encoding="utf-8")
    env_file = tmp_path / "cadence.env"
    env_file.write_text(f"PAGERDUTY_TOKEN={TOKEN}\n", encoding="utf-8")
    share = tmp_path / "share"
    yield {"proj": proj, "env_file": env_file, "share": share, "tmp": tmp_path}
    server.shutdown()


def substitute(text: str, d: dict) -> str:
    """Temp paths for the documented ones."""
    text = (text.replace("/srv/cadence", str(d["proj"]))
            .replace("/srv/share/cadence", str(d["share"]))
            .replace("/etc/cadence/cadence.env", str(d["env_file"]))
            .replace("/var/log/cadence/export.log", str(d["tmp"] / "export.log")))
    return text


def assert_exported(out_dir: Path) -> None:
    assert sorted(p.name for p in out_dir.iterdir()) == FILES
    pay = read_csv(out_dir / "cadence-metrics-2026-W47.csv")[0]
    # the synced PagerDuty incident joined the seeded one: 2 incidents on payments this week
    assert (pay["period"], pay["scope"], pay["incidents"]) == ("2026-W47", "payments", "2")


def cron_env(d) -> dict:
    """What cron gives a job: next to nothing (and the test's pinned "now")."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(d["tmp"]), "SHELL": "/bin/sh", "LOGNAME": "cadence", **PINNED}


def readme_cron_line() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Weekly export", 1)[1]
    block = re.search(r"```cron\n(.*?)```", section, flags=re.S).group(1)
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1, lines
    return lines[0]


def test_cron_line_runs_in_a_cron_like_shell(deployment):
    line = readme_cron_line()
    minute, hour, dom, month, dow, command = line.split(None, 5)
    assert (minute, hour, dom, month, dow) == ("0", "6", "*", "*", "1")   # Mondays 06:00
    assert "%" not in command   # cron turns % into newlines
    assert "--sync" in command and "--last-week" in command
    result = subprocess.run(["/bin/sh", "-c", substitute(command, deployment)],
                            env=cron_env(deployment), capture_output=True, text=True, timeout=120)
    log = (deployment["tmp"] / "export.log").read_text()
    assert result.returncode == 0, log + result.stderr
    assert "synced: pagerduty" in log and TOKEN not in log
    assert_exported(deployment["share"])


def parse_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str
    unit.read_string(path.read_text(encoding="utf-8"))
    return unit


def read_environment_file(path: Path) -> dict:
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def test_systemd_service_and_timer_run_like_systemd(deployment, tmp_path):
    service = parse_unit(ROOT / "examples" / "cadence-export.service")
    timer = parse_unit(ROOT / "examples" / "cadence-export.timer")
    assert service["Service"]["Type"] == "oneshot"
    assert timer["Timer"]["OnCalendar"] == "Mon *-*-* 06:00:00 UTC"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "cadence-export.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    svc = service["Service"]
    # ProtectSystem=strict: the warehouse and the share are the only writable paths
    assert set(svc["ReadWritePaths"].split()) == {"/srv/cadence/data", "/srv/share/cadence"}

    # Run ExecStart as systemd would: no shell, WorkingDirectory, EnvironmentFile, bare PATH.
    argv = [substitute(a, deployment) for a in shlex.split(svc["ExecStart"])]
    env = {"PATH": "/usr/bin:/bin", **read_environment_file(deployment["env_file"]), **PINNED}
    result = subprocess.run(argv, cwd=substitute(svc["WorkingDirectory"], deployment), env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_exported(deployment["share"])

    # When systemd's own tools are present, let them check the units and the calendar too.
    analyze = shutil.which("systemd-analyze")
    if analyze:
        units = tmp_path / "units"
        units.mkdir()
        real_exec = svc["ExecStart"].replace("/srv/cadence/.venv", str(VENV))
        (units / "cadence-export.service").write_text(
            (ROOT / "examples" / "cadence-export.service").read_text().replace(svc["ExecStart"],
                                                                               real_exec))
        shutil.copy(ROOT / "examples" / "cadence-export.timer", units)
        verify = subprocess.run([analyze, "verify", str(units / "cadence-export.service"),
                                 str(units / "cadence-export.timer")],
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stderr
        cal = subprocess.run([analyze, "calendar", "--iterations=2",
                              "--base-time=2026-11-25 12:00:00 UTC", timer["Timer"]["OnCalendar"]],
                             capture_output=True, text=True, timeout=60)
        assert cal.returncode == 0, cal.stderr
        assert "Mon 2026-11-30 06:00:00 UTC" in cal.stdout
        assert "Mon 2026-12-07 06:00:00 UTC" in cal.stdout


def test_github_actions_workflow_steps_run(deployment):
    wf = yaml.safe_load((ROOT / "examples" / "weekly-export.yml").read_text(encoding="utf-8"))
    triggers = wf.get("on", wf.get(True))          # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"] == [{"cron": "0 6 * * 1"}]
    assert "workflow_dispatch" in triggers
    steps = wf["jobs"]["export"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert "actions/cache" in uses
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["run"].strip() == "python -m pip install ."
    export = next(s for s in steps if "cadence export" in s.get("run", ""))
    assert "--sync" in export["run"] and "--last-week" in export["run"]
    upload = steps[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["if-no-files-found"] == "error"
    assert steps.index(export) < len(steps) - 1

    # Run the export step as the runner would: bash -e, secrets as env (unset ones are empty),
    # `cadence` on PATH from the install step, the checkout as the working directory.
    secrets = {"CADENCE_GITHUB_TOKEN": "", "PAGERDUTY_TOKEN": TOKEN}
    env = {"PATH": f"{VENV / 'bin'}:/usr/bin:/bin", "HOME": str(deployment["tmp"]), **PINNED}
    for key, value in export["env"].items():
        name = re.fullmatch(r"\$\{\{ secrets\.([A-Z_]+) \}\}", value).group(1)
        env[key] = secrets[name]
    result = subprocess.run(["bash", "-e", "-c", substitute(export["run"], deployment)],
                            cwd=deployment["proj"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    artifact = sorted(os.path.basename(p)
                      for p in glob.glob(str(deployment["proj"] / upload["with"]["path"])))
    assert artifact == FILES
    assert_exported(deployment["proj"] / "exports")
