"""Documents Cadence writes for people to read away from the dashboard (``cadence report ...``)."""
