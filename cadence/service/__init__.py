"""``cadence serve``: the dashboard, the webhook receiver and a scheduler as one supervised service
(issue 16). ``schedule`` parses ``[schedule]``; ``runs`` records job runs in the warehouse;
``jobs`` runs one sync or export; ``telemetry`` holds the Prometheus metrics; ``worker`` is the
process serving the webhook port and running the scheduler; ``supervisor`` starts, restarts and
stops the parts."""
