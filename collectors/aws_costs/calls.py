"""Clients and calls: boto3 clients with botocore's standard retries, one call wrapper that turns
every failure into a named Cadence error saying what to do, and the meter of paid requests."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from cadence.core.errors import SourceAuthError, SourceError, SourceRateLimitError

CE_REQUEST_USD = 0.01

# IAM action behind each API operation, named in AccessDenied messages.
IAM_ACTIONS = {
    "get_cost_and_usage": "ce:GetCostAndUsage",
    "get_savings_plans_utilization": "ce:GetSavingsPlansUtilization",
    "get_savings_plans_coverage": "ce:GetSavingsPlansCoverage",
    "get_reservation_utilization": "ce:GetReservationUtilization",
    "get_reservation_coverage": "ce:GetReservationCoverage",
    "get_metric_data": "cloudwatch:GetMetricData",
    "list_metrics": "cloudwatch:ListMetrics",
    "describe_instances": "ec2:DescribeInstances",
    "describe_instance_types": "ec2:DescribeInstanceTypes",
    "list_clusters": "ecs:ListClusters",
    "list_services": "ecs:ListServices",
    "describe_services": "ecs:DescribeServices",
    "describe_task_definition": "ecs:DescribeTaskDefinition",
}
PAID_OPERATIONS = {op for op, action in IAM_ACTIONS.items() if action.startswith("ce:")}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                 "UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"}
THROTTLED = {"Throttling", "ThrottlingException", "LimitExceededException", "RequestLimitExceeded",
             "TooManyRequestsException"}
# How emulators and proxies (LocalStack, gateways) say "this endpoint has no such operation"; AWS
# itself implements every operation used here. A bare 500 is never read as one of these.
NOT_IMPLEMENTED_CODES = {"NotImplemented", "NotImplementedException", "UnknownOperationException",
                         "InvalidAction"}
NOT_IMPLEMENTED_TEXT = re.compile(r"not\s+(?:yet\s+)?(?:been\s+)?implemented|NotImplementedError", re.I)


class EndpointNotImplementedError(SourceError):
    """The endpoint (an emulator or proxy, never AWS itself) does not implement an operation; the
    part that needs it is skipped with a warning instead of failing the run."""

    def __init__(self, endpoint: str, operation: str, answer: str):
        self.endpoint, self.operation, self.answer = endpoint, operation, answer
        super().__init__(f"The endpoint at {endpoint} does not implement {operation} ({answer}).")


def endpoint_lacks(status: int | None, code: str, message: str) -> str | None:
    """What in an error answer says the endpoint does not implement the operation called (a short
    description for messages), or None when it is any other error, including a bare 500."""
    if status == 501:
        return f"HTTP 501 {code}".strip()
    if code in NOT_IMPLEMENTED_CODES:
        return code
    if NOT_IMPLEMENTED_TEXT.search(message or ""):
        return f"{code or status}: not implemented"
    return None


def _no_retry_when_not_implemented(response=None, operation=None, **_) -> bool | None:
    """botocore ``needs-retry`` hook, run before the standard retry handler: an answer saying the
    operation is not implemented will say so again, so it is not retried (``False`` stops the
    retries; ``None`` leaves the decision to botocore's standard mode)."""
    if not response or operation is None:
        return None
    http, parsed = response
    if http.status_code < 400:
        return None
    error = (parsed or {}).get("Error", {})
    if endpoint_lacks(http.status_code, error.get("Code", ""), error.get("Message", "")):
        return False
    return None


def make_client(session, service: str, region: str | None = None, *, max_attempts: int = 8):
    """A boto3 client with botocore's standard retry mode: throttling (including Cost Explorer's
    LimitExceededException) and transient errors are retried with exponential backoff and jitter,
    up to ``max_attempts`` attempts, before the error reaches ``_call``; an answer saying the
    endpoint does not implement the operation is not retried."""
    from botocore.config import Config as BotoConfig

    cfg = BotoConfig(retries={"total_max_attempts": max_attempts, "mode": "standard"}, connect_timeout=10,
                     read_timeout=60, user_agent_extra="cadence")
    client = session.client(service, region_name=region, config=cfg)
    client.meta.events.register_first(f"needs-retry.{client.meta.service_model.service_id.hyphenize()}",
                                      _no_retry_when_not_implemented)
    return client


def default_session():
    import boto3

    return boto3.Session()


@dataclass
class Meter:
    """Counts the paid Cost Explorer requests of a run (each page is one request)."""

    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def cost_usd(self) -> float:
        return round(self.requests * CE_REQUEST_USD, 2)


def call_api(client, operation: str, meter: Meter | None = None, **kwargs) -> dict:
    """One API call, with every failure turned into a named Cadence error that says what to do.

    Throttling was already retried by botocore (standard mode); reaching here means it persisted.
    An endpoint that does not implement the operation raises ``EndpointNotImplementedError``.
    """
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    action = IAM_ACTIONS.get(operation, operation)
    try:
        response = getattr(client, operation)(**kwargs)
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise SourceAuthError(
            "No AWS credentials found; set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or run where an IAM role is available, then run the sync again."
        ) from exc
    except EndpointConnectionError as exc:
        raise SourceError(f"Cannot reach the AWS endpoint for {action} ({exc.kwargs.get('endpoint_url')}); "
                          f"check the network and AWS_ENDPOINT_URL if you set one.") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        text = exc.response.get("Error", {}).get("Message", "")
        if code in ACCESS_DENIED:
            raise SourceAuthError(
                f"AWS denied {action} ({code}): grant the IAM permission {action} to these credentials "
                f"(see README, AWS costs). Nothing was written, so no cost is shown as $0.") from exc
        if code in THROTTLED:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            raise SourceRateLimitError(
                f"AWS kept throttling {action} after {attempts} attempts with backoff ({code}); "
                f"run the sync again in a few minutes: it resumes from its cursor.") from exc
        meta = exc.response.get("ResponseMetadata", {})
        lacks = endpoint_lacks(meta.get("HTTPStatusCode"), code, text)
        if lacks:
            raise EndpointNotImplementedError(client.meta.endpoint_url,
                                              client.meta.method_to_api_mapping.get(operation, operation),
                                              lacks) from exc
        # Error bodies from proxies and fakes can be HTML pages: keep one short line of text.
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text or "")).strip()[:200]
        raise SourceError(f"AWS {action} failed: {code}: {text}") from exc
    if meter is not None and operation in PAID_OPERATIONS:
        meter.requests += 1
        meter.by_operation[operation] += 1
    return response
