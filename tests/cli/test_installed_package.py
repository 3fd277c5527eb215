"""Issue 14, item 6: ``cadence dashboard`` works from an installed package, not only from a checkout.

The tree is built into a wheel and installed (not editable) into a new virtual environment with uv;
from an empty directory elsewhere, that environment's ``cadence dashboard`` builds the demo database,
serves Streamlit's health endpoint, and its packaged app.py renders the Overview (AppTest, run by the
installed Python).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.support.net import free_port, stop, wait_for_health

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
# What the wheel is built from (the sdist's contents: MANIFEST.in and the packages).
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "app.py", ".streamlit/config.toml",
           "pages", "cadence", "warehouse", "metrics", "collectors"]
RENDER = """
import json, sys
from streamlit.testing.v1 import AppTest
import cadence.dashboard.ui
at = AppTest.from_file(sys.argv[1], default_timeout=180)
at.run()
print(json.dumps({"exceptions": [str(e.value) for e in at.exception], "titles": [t.value for t in at.title],
                  "metrics": len(at.metric), "ui": cadence.dashboard.ui.__file__}))
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding Cadence installed from a wheel built out of a copy of this tree."""
    base = tmp_path_factory.mktemp("installed")
    src = base / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, src / name)
    venv = base / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADENCE_", "VIRTUAL_ENV", "PYTHON"))}
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env)
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(src)],
                   check=True, env=env, timeout=600)
    shutil.rmtree(src)   # nothing may run from the copy: only the installed package is left
    return venv


def test_the_wheel_carries_the_dashboard_and_not_the_secrets(installed):
    site = next((installed / "lib").glob("python3*/site-packages"))
    app = site / "cadence" / "dashboard" / "app"
    assert sorted(p.name for p in (app / "pages").glob("*.py")) == sorted(p.name for p in (ROOT / "pages").glob("*.py"))
    assert (app / "app.py").read_text(encoding="utf-8") == (ROOT / "app.py").read_text(encoding="utf-8")
    assert [p.name for p in (app / ".streamlit").iterdir()] == ["config.toml"]   # the theme, never secrets.toml
    assert not (site / "cadence" / "__editable__").exists() and not list(site.glob("__editable__*cadence*"))


def test_cadence_dashboard_serves_and_renders_from_the_installed_package(installed, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADENCE_", "VIRTUAL_ENV", "PYTHON"))}
    env["HOME"] = str(tmp_path)
    log = (tmp_path / "dashboard.log").open("w+")
    # No database configured: like `make run`, it builds the demo one under ./data first.
    proc = subprocess.Popen([str(installed / "bin" / "cadence"), "dashboard", "--port", str(port)],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", proc, log, timeout=180)   # a busy machine's deadline
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"<noscript>" in r.read()
        demo = tmp_path / "data" / "demo.duckdb"
        assert demo.exists()
        site = next((installed / "lib").glob("python3*/site-packages"))
        packaged_app = site / "cadence" / "dashboard" / "app" / "app.py"
        streamlit = psutil.Process(proc.pid).children()
        assert [c.cmdline()[4] for c in streamlit] == [str(packaged_app)]   # python -m streamlit run APP ...
    finally:
        stop(proc, timeout=60)   # SIGTERM, which cadence dashboard forwards to Streamlit
        log.close()

    rendered = subprocess.run([str(installed / "bin" / "python"), "-c", RENDER, str(packaged_app)],
        cwd=tmp_path, env={**env, "CADENCE_DB": str(demo)}, capture_output=True, text=True, timeout=300)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    page = json.loads(rendered.stdout.strip().splitlines()[-1])
    assert page["exceptions"] == []
    assert page["titles"] == ["Overview"] and page["metrics"] > 0
    assert page["ui"].startswith(str(site))   # the installed package, not this checkout
