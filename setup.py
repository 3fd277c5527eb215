"""Ships the dashboard's Streamlit script with the package (issue 14, item 6).

app.py, pages/ and the theme (.streamlit/config.toml) stay at the top of the source tree, where a
Streamlit project keeps them; a built wheel carries a copy of them as ``cadence/dashboard/app/``, which
``cadence dashboard`` runs when Cadence is installed rather than checked out
(``cadence.commands.dashboard.app_script``). Everything else is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Relative to ROOT, copied to the same relative paths under cadence/dashboard/app/ (never
# .streamlit/secrets.toml: only the theme file is named).
DASHBOARD_FILES = ["app.py", ".streamlit/config.toml", *sorted(p.relative_to(ROOT).as_posix()
                                                           for p in (ROOT / "pages").glob("*.py"))]


class BuildPyWithDashboard(build_py):
    """build_py, then the dashboard files into the build (an editable install runs the source tree's)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "cadence" / "dashboard" / "app"
        for name in DASHBOARD_FILES:
            self.mkpath(str((target / name).parent))
            self.copy_file(str(ROOT / name), str(target / name))


setup(cmdclass={"build_py": BuildPyWithDashboard})
