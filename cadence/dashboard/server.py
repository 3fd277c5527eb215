"""``python -m cadence.dashboard.server run APP [flags]``: ``streamlit run``, warmed first.

What ``cadence dashboard`` and ``cadence serve`` start (cadence.commands.dashboard.streamlit_args): the
same Streamlit command line, run in this process after cadence.dashboard.warm has imported what the
pages need and computed the default ranges' DORA facts, and with its thread warming every page once
the server is up (and again after each write to the warehouse).
"""

from __future__ import annotations

import sys


def _log_warm_up() -> None:
    """The warm-up's lines (and the facts' timings) on stderr beside Streamlit's own."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("cadence.dashboard.warm", "metrics.facts"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False


def main(argv: list[str] | None = None) -> None:
    from cadence.dashboard import warm

    _log_warm_up()
    args = list(sys.argv[1:] if argv is None else argv)
    warm.start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *args]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
