"""AWS cost and utilization: Cost Explorer, Savings Plans/reservation utilization, CloudWatch.

APIs (boto3; clients built from a ``boto3.Session`` so the standard credential chain and
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` apply with no Cadence-specific option):

- ``ce:GetCostAndUsage`` DAILY, metrics AmortizedCost → ``effective_cost``, UnblendedCost →
  ``billed_cost``, UsageQuantity → ``consumed_quantity``, grouped by LINKED_ACCOUNT and SERVICE.
  With a team tag configured (``[sources.aws] team_tag``) one request grouped by that TAG finds the
  tag values with spend (keys come back as ``team$value``; ``team$`` is untagged), then one
  LINKED_ACCOUNT × SERVICE request per value (``Filter.Tags`` EQUALS) and one for untagged spend
  (``Filter.Tags`` MatchOptions ABSENT). Every stored row is then one exact cell of the spend
  (day × account × service × tag value): nothing is counted twice and nothing is estimated by
  proportion. boto3 has no paginator for this call: ``NextPageToken`` is looped by hand.
- ``ce:GetSavingsPlansUtilization``/``Coverage`` and ``ce:GetReservationUtilization``/``Coverage``
  DAILY → ``commitments``. Emulators often lack these: a part whose endpoint says it does not
  implement a call (HTTP 501, ``NotImplemented``-like codes, "not implemented" text) is skipped
  with a warning, not retried, and recorded in ``sync_state``; the other parts are written and the
  run succeeds. A bare 500 is an error like any other.
- ``ec2:DescribeInstances``/``DescribeInstanceTypes``, ``ecs:List*``/``Describe*`` and
  ``cloudwatch:ListMetrics``/``GetMetricData`` (hourly averages, up to 500 queries a call) →
  ``utilization`` with daily avg and p95 of the hourly values, as fractions of capacity.

Tables: ``costs`` (source ``aws-cost-explorer``), ``commitments``, ``utilization``, ``sync_state``.

Incremental, because every Cost Explorer request costs USD 0.01: the ``costs`` cursor is the first
day not yet final (``Estimated`` false); a run fetches only the days before the history already
held (when the lookback grew) and from that cursor to yesterday. Re-fetched days replace their old
rows (delete + insert in the same transaction as the cursor), so a group that vanished from an
estimate leaves nothing behind and two runs never duplicate.

Modules: ``settings`` ([sources.aws] validated), ``calls`` (clients, one error-mapping call
wrapper, the paid-request meter), ``cost_explorer``, ``commitments``, ``cloudwatch`` (utilization)
and ``run`` (``sync``: each part fetched, then written in its own transaction).
"""

from cadence.core.errors import SourceError
from collectors.aws_costs.calls import (EndpointNotImplementedError, Meter, default_session, endpoint_lacks,
                                        make_client)
from collectors.aws_costs.cost_explorer import parse_tag_key, plan_ranges
from collectors.aws_costs.run import PARTS, SyncReport, sync
from collectors.aws_costs.settings import PROVIDER, SOURCE, AwsSettings, aws_settings, window_start

__all__ = ["PARTS", "PROVIDER", "SOURCE", "AwsSettings", "EndpointNotImplementedError", "Meter", "SourceError",
           "SyncReport", "aws_settings", "default_session", "endpoint_lacks", "make_client", "parse_tag_key",
           "plan_ranges", "sync", "window_start"]
