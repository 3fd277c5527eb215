"""One module per ``cadence`` command; each defines ``command``. See cadence/cli.py."""
