"""Cost Explorer, commitments and CloudWatch through real HTTP: a moto server on 127.0.0.1 reached
with AWS_ENDPOINT_URL, botocore's Stubber for the calls moto lacks, and a scripted server for
AccessDenied and throttling. No live AWS; no dependence on today's date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import boto3
import pytest
from botocore.stub import Stubber

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError, SourceAuthError, SourceRateLimitError
from collectors import aws_costs
from tests.support.aws_support import (
    ScriptedAws,
    day_result,
    point_boto3_at,
    queue_cost_results,
    reset_moto,
)
from warehouse import connect, read_cursor

EC2 = "Amazon Elastic Compute Cloud - Compute"
S3 = "Amazon Simple Storage Service"
LAMBDA = "AWS Lambda"
A1, A2 = "111111111111", "222222222222"


@pytest.fixture
def aws(monkeypatch, tmp_path, moto_url):
    reset_moto(moto_url)
    point_boto3_at(monkeypatch, tmp_path, moto_url)
    return moto_url


def cfg(**aws_source):
    return parse_config({
        "teams": {"payments": {"cost_tags": ["payments"]},
                  "storefront": {"cost_tags": ["storefront"]}},
        "cost_allocation": {"accounts": {"333333333333": "storefront"}},
        "sources": {"aws": {"lookback_months": 0, **aws_source}},
    })


def cost_rows(db_path):
    con = connect(db_path, read_only=True)
    try:
        return con.execute(
            "SELECT charge_date, sub_account_id, service_name, allocation_tag, team, effective_cost, "
            "billed_cost, consumed_quantity, estimated FROM costs ORDER BY ALL").fetchall()
    finally:
        con.close()


THREE_PAGES = (
    {"ResultsByTime": [day_result("2026-10-01", [([A1, S3], 1.5, 1.5, 100), ([A1, EC2], 10.0, 12.0, 24)])],
     "NextPageToken": "page-2"},
    {"ResultsByTime": [day_result("2026-10-02", [([A1, S3], 2.0, 2.0, 110)])], "NextPageToken": "page-3"},
    {"ResultsByTime": [day_result("2026-10-02", [([A2, LAMBDA], 0.25, 0.25, 1000)]),
                       day_result("2026-10-03", [([A1, EC2], 9.0, 11.0, 24), ([A2, LAMBDA], 0.1, 0.1, 9)],
                                  estimated=True)]},
)


def test_cli_three_pages_then_estimated_day_refetched_and_replaced(aws, db_path, tmp_path, pin_now, capsys):
    toml = tmp_path / "cadence.toml"
    toml.write_text('[sources.aws]\nlookback_months = 0\n')
    pin_now(date(2026, 10, 4))
    queue_cost_results(aws, *THREE_PAGES)

    assert main(["--db", str(db_path), "--config", str(toml), "sync", "aws-costs", "--only", "costs"]) == 0
    out = capsys.readouterr().out
    # Window: 1st of the current month (lookback 0) to yesterday: 2026-10-01..03, three pages.
    assert "3 paid requests (USD 0.03" in out
    rows = cost_rows(db_path)
    assert len(rows) == 6
    # effective 1.5 + 10 + 2 + 0.25 + 9 + 0.1 = 22.85; billed 1.5 + 12 + 2 + 0.25 + 11 + 0.1 = 26.85
    assert sum(r[5] for r in rows) == pytest.approx(22.85)
    assert sum(r[6] for r in rows) == pytest.approx(26.85)
    assert all(r[3] == "" and r[4] == "unallocated" for r in rows)
    assert [r[8] for r in rows if r[0] == date(2026, 10, 3)] == [True, True]
    with connect(db_path, read_only=True) as con:
        assert read_cursor(con, "aws-cost-explorer", "costs") == "2026-10-03"

    # Next run: only the estimated day is asked for again; its final figures replace the estimate
    # (the Lambda group vanished from the final bill, so its row goes too).
    queue_cost_results(aws, {"ResultsByTime": [day_result("2026-10-03", [([A1, EC2], 9.5, 11.5, 24)])]})
    assert main(["--db", str(db_path), "--config", str(toml), "sync", "aws-costs", "--only", "costs"]) == 0
    out = capsys.readouterr().out
    assert "1 paid requests (USD 0.01" in out
    rows = cost_rows(db_path)
    assert [r for r in rows if r[0] == date(2026, 10, 3)] == [
        (date(2026, 10, 3), A1, EC2, "", "unallocated", 9.5, 11.5, 24.0, False)]
    assert len(rows) == 5

    # Third run: everything final, nothing to ask, nothing changes.
    assert main(["--db", str(db_path), "--config", str(toml), "sync", "aws-costs", "--only", "costs"]) == 0
    assert "0 paid requests (USD 0.00" in capsys.readouterr().out
    assert cost_rows(db_path) == rows
    with connect(db_path, read_only=True) as con:
        dupes = con.execute("SELECT count(*) - count(DISTINCT (charge_date, source, provider, billing_account_id, "
                            "sub_account_id, service_name, region, resource_id, allocation_tag)) FROM costs").fetchone()
        assert dupes[0] == 0
        assert read_cursor(con, "aws-cost-explorer", "costs") == "2026-10-04"


def test_team_tag_values_untagged_spend_and_allocation(aws, db_path):
    sent = []
    session = boto3.Session()
    session.events.register("provide-client-params.ce.GetCostAndUsage",
                            lambda params, **kw: sent.append({k: params.get(k) for k in ("GroupBy", "Filter")}))
    queue_cost_results(
        aws,
        # 1: which tag values have spend (legacy has none: no request is spent on it)
        {"ResultsByTime": [day_result("2026-10-01", [(["team$payments"], 5, 5, 1), (["team$storefront"], 3, 3, 1),
                                                     (["team$legacy"], 0, 0, 0), (["team$"], 2, 2, 1)])]},
        # 2, 3: one account × service request per value, sorted; 4: untagged (ABSENT)
        {"ResultsByTime": [day_result("2026-10-01", [([A1, EC2], 5, 5, 1)])]},
        {"ResultsByTime": [day_result("2026-10-01", [([A1, S3], 3, 3, 1)])]},
        {"ResultsByTime": [day_result("2026-10-01", [(["333333333333", S3], 1.5, 1.5, 1),
                                                     (["444444444444", S3], 0.5, 0.5, 1)])]},
    )
    report = aws_costs.sync(db_path, cfg(team_tag="team"), session=session, parts=("costs",),
                            today=date(2026, 10, 2))
    assert report.paid_requests == 4 and report.cost_usd == 0.04
    assert sent[0] == {"GroupBy": [{"Type": "TAG", "Key": "team"}], "Filter": None}
    assert sent[1]["Filter"] == {"Tags": {"Key": "team", "Values": ["payments"], "MatchOptions": ["EQUALS"]}}
    assert sent[3]["Filter"] == {"Tags": {"Key": "team", "MatchOptions": ["ABSENT"]}}
    assert sent[3]["GroupBy"] == [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                                  {"Type": "DIMENSION", "Key": "SERVICE"}]
    got = {(r[1], r[3], r[4]): r[5] for r in cost_rows(db_path)}
    # `team$payments` → tag "payments" → team payments; untagged account 333… → storefront by the
    # account rule; untagged 444… → unallocated. Total 5 + 3 + 1.5 + 0.5 = 10 = the tag query's total.
    assert got == {(A1, "payments", "payments"): 5.0, (A1, "storefront", "storefront"): 3.0,
                   ("333333333333", "", "storefront"): 1.5, ("444444444444", "", "unallocated"): 0.5}


def test_parse_tag_key():
    assert aws_costs.parse_tag_key("team$payments") == "payments"
    assert aws_costs.parse_tag_key("team$") == ""
    assert aws_costs.parse_tag_key("cost-center$a$b") == "a$b"


def test_lookback_beyond_cost_explorer_history_is_a_clear_error(db_path, tmp_path, capsys):
    toml = tmp_path / "cadence.toml"
    toml.write_text("[sources.aws]\nlookback_months = 14\n")
    assert main(["--db", str(db_path), "--config", str(toml), "sync", "aws-costs"]) == 1
    err = capsys.readouterr().err
    assert "13 months of history plus the current month" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="lookback_months = 20"):
        aws_costs.aws_settings(cfg(), lookback_months=20)


def test_commitments_with_stubber(monkeypatch, tmp_path, db_path):
    point_boto3_at(monkeypatch, tmp_path, None)
    ce = boto3.Session().client("ce", region_name="us-east-1")
    period = {"Start": "2026-10-01", "End": "2026-10-03"}
    stub = Stubber(ce)

    def tp(day):
        return {"Start": day, "End": f"2026-10-0{int(day[-1]) + 1}"}

    stub.add_response("get_savings_plans_utilization", {
        "SavingsPlansUtilizationsByTime": [
            {"TimePeriod": tp("2026-10-01"), "Utilization": {"UtilizationPercentage": "88.5"}},
            {"TimePeriod": tp("2026-10-02"), "Utilization": {"UtilizationPercentage": "91"}}],
        "Total": {"Utilization": {"UtilizationPercentage": "89.75"}}},
        {"TimePeriod": period, "Granularity": "DAILY"})
    stub.add_response("get_savings_plans_coverage", {
        "SavingsPlansCoverages": [{"TimePeriod": tp("2026-10-01"), "Coverage": {"CoveragePercentage": "70"}},
                                  {"TimePeriod": tp("2026-10-02"), "Coverage": {"CoveragePercentage": "72"}}]},
        {"TimePeriod": period, "Granularity": "DAILY"})
    stub.add_response("get_reservation_utilization", {
        "UtilizationsByTime": [{"TimePeriod": tp("2026-10-01"), "Total": {"UtilizationPercentage": "100"}}],
        "NextPageToken": "r2"}, {"TimePeriod": period, "Granularity": "DAILY"})
    stub.add_response("get_reservation_utilization", {
        "UtilizationsByTime": [{"TimePeriod": tp("2026-10-02"), "Total": {"UtilizationPercentage": "50"}}]},
        {"TimePeriod": period, "Granularity": "DAILY", "NextPageToken": "r2"})
    # An account may have no reservation coverage data at all: tolerated, not an error.
    stub.add_client_error("get_reservation_coverage", "DataUnavailableException", "no data",
                          expected_params={"TimePeriod": period, "Granularity": "DAILY"})
    with stub:
        report = aws_costs.sync(db_path, cfg(), ce_client=ce, parts=("commitments",), today=date(2026, 10, 3))
    stub.assert_no_pending_responses()
    # 5 requests: SP utilization, SP coverage, reservation utilization ×2 pages, reservation coverage
    # (the refused one is not counted as paid).
    assert report.paid_requests == 4 and report.commitment_rows == 4
    with connect(db_path, read_only=True) as con:
        rows = con.execute("SELECT date, kind, utilization, coverage FROM commitments ORDER BY ALL").fetchall()
    assert rows == [(date(2026, 10, 1), "reservation", 1.0, None), (date(2026, 10, 1), "savings_plan", 0.885, 0.70),
                    (date(2026, 10, 2), "reservation", 0.5, None), (date(2026, 10, 2), "savings_plan", 0.91, 0.72)]


@pytest.mark.slow
def test_cloudwatch_utilization_ec2_and_ecs(aws, db_path, monkeypatch):
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")   # read at EC2 backend start: saves seconds
    ec2 = boto3.client("ec2", region_name="us-east-1")
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    ecs = boto3.client("ecs", region_name="us-east-1")
    iid = ec2.run_instances(ImageId="ami-12345678", InstanceType="t3.large", MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "payments"}]}])["Instances"][0]["InstanceId"]
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="web", cpu="512", memory="1024", requiresCompatibilities=["FARGATE"],
                                 networkMode="awsvpc",
                                 containerDefinitions=[{"name": "web", "image": "nginx", "essential": True}])
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=2,
                       tags=[{"key": "team", "value": "storefront"}])

    def put(ns, name, dims, day, values):
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
             "Timestamp": datetime(2026, 10, day, h, 30, tzinfo=UTC), "Value": v, "Unit": "Percent"}
            for h, v in enumerate(values)])

    put("AWS/EC2", "CPUUtilization", [("InstanceId", iid)], 2, [20.0] * 12 + [60.0] * 12)
    put("AWS/EC2", "CPUUtilization", [("InstanceId", iid)], 3, [50.0, 70.0])
    put("CWAgent", "mem_used_percent", [("InstanceId", iid), ("InstanceType", "t3.large")], 2, [30.0])
    put("AWS/ECS", "CPUUtilization", [("ClusterName", "prod"), ("ServiceName", "web")], 3, [150.0])
    put("AWS/EC2", "CPUUtilization", [("InstanceId", iid)], 4, [99.0])   # today: not a complete day

    report = aws_costs.sync(db_path, cfg(team_tag="team", utilization_days=2), parts=("utilization",),
                            today=date(2026, 10, 4))
    assert report.paid_requests == 0
    with connect(db_path, read_only=True) as con:
        rows = con.execute("SELECT date, resource, service, team, metric, avg, p95, capacity FROM utilization "
                           "ORDER BY date, resource, metric").fetchall()
    assert rows == [
        # 12 h at 20 % and 12 h at 60 %: avg 0.4; p95 at rank 0.95 × 23 = 21.85 lies among the 60s.
        (date(2026, 10, 2), iid, EC2, "payments", "cpu", 0.4, 0.6, 2.0),           # t3.large: 2 vCPU
        (date(2026, 10, 2), iid, EC2, "payments", "memory", 0.3, 0.3, 8.0),        # 8 GiB
        # two hours, 50 % and 70 %: avg 0.6; p95 = 0.5 + 0.95 × (0.7 − 0.5) = 0.69
        (date(2026, 10, 3), "ecs:prod/web", "Amazon Elastic Container Service", "storefront", "cpu", 1.0, 1.0, 1.0),
        (date(2026, 10, 3), iid, EC2, "payments", "cpu", 0.6, 0.69, 2.0),
    ]
    # 512 CPU units / 1024 × 2 tasks = 1 vCPU reserved; 150 % of it is capped at 1.0.


def test_access_denied_names_the_permission_and_writes_nothing(monkeypatch, tmp_path, db_path):
    denied = {"__type": "AccessDeniedException",
              "Message": "User: arn:aws:iam::1:user/x is not authorized to perform: ce:GetCostAndUsage"}
    with ScriptedAws([(400, denied)]) as fake:
        point_boto3_at(monkeypatch, tmp_path, fake.url)
        with pytest.raises(SourceAuthError, match=r"grant the IAM permission ce:GetCostAndUsage"):
            aws_costs.sync(db_path, cfg(), parts=("costs",), today=date(2026, 10, 2))
    with connect(db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM costs").fetchone()[0] == 0     # no $0 posing as data
        error = con.execute("SELECT last_error, cursor FROM sync_state WHERE scope = 'costs'").fetchone()
    assert "ce:GetCostAndUsage" in error[0] and error[1] is None


def test_throttling_is_retried_with_backoff(monkeypatch, tmp_path, db_path):
    throttled = {"__type": "ThrottlingException", "message": "Rate exceeded"}
    ok = {"ResultsByTime": [day_result("2026-10-01", [([A1, S3], 4.0, 4.0, 1)])]}
    with ScriptedAws([(400, throttled), (400, throttled), (200, ok)]) as fake:
        point_boto3_at(monkeypatch, tmp_path, fake.url)
        report = aws_costs.sync(db_path, cfg(), parts=("costs",), today=date(2026, 10, 2))
    assert len(fake.hits) == 3                        # two refusals, then the answer
    assert report.paid_requests == 1 and report.cost_rows == 1
    assert [r[5] for r in cost_rows(db_path)] == [4.0]


def test_no_credentials_is_a_clear_error(monkeypatch, tmp_path, db_path):
    with ScriptedAws([(200, {"ResultsByTime": []})]) as fake:
        point_boto3_at(monkeypatch, tmp_path, fake.url, credentials=False)
        with pytest.raises(SourceAuthError, match="No AWS credentials found; set AWS_PROFILE"):
            aws_costs.sync(db_path, cfg(), parts=("costs",), today=date(2026, 10, 2))
        assert fake.hits == []


def test_a_failed_part_leaves_the_others_written(monkeypatch, tmp_path, db_path):
    ok = {"ResultsByTime": [day_result("2026-10-01", [([A1, S3], 4.0, 4.0, 1)])]}
    refused = {"__type": "ValidationException", "Message": "<html><b>bad</b> request</html>"}
    with ScriptedAws([(200, ok), (400, refused)]) as fake:
        point_boto3_at(monkeypatch, tmp_path, fake.url)
        with pytest.raises(aws_costs.SourceError) as info:
            aws_costs.sync(db_path, cfg(), parts=("costs", "commitments"), today=date(2026, 10, 2))
    # the commitments call failed (HTML trimmed to text); the costs part had already committed
    assert "ce:GetSavingsPlansUtilization failed: ValidationException: bad request" in str(info.value)
    assert "1 paid Cost Explorer requests, USD 0.01" in str(info.value)
    assert info.value.report.cost_rows == 1
    assert [r[5] for r in cost_rows(db_path)] == [4.0]
    with connect(db_path, read_only=True) as con:
        states = dict(con.execute("SELECT scope, last_error IS NULL FROM sync_state").fetchall())
    assert states == {"costs": True, "commitments": False}


def test_shared_split_config_is_validated():
    with pytest.raises(ConfigError, match="cost_allocation.shared_split: must be one of none, even, proportional"):
        parse_config({"cost_allocation": {"shared_split": "by-headcount"}})
    with pytest.raises(ConfigError, match="cost_allocation.split: unknown key"):
        parse_config({"cost_allocation": {"split": "even"}})
    ok = parse_config({"teams": {"a": {}}, "cost_allocation": {"accounts": {"1": "shared"}, "shared_tags": ["common"]}})
    assert ok.cost_allocation["accounts"] == {"1": "shared"}


# -- endpoints that lack the commitments calls ----------------------------------------------------

SP_UTILIZATION_LACKS = "does not implement GetSavingsPlansUtilization: commitments skipped"


def sync_states(db_path):
    """scope -> (cursor, last_error, skipped)."""
    with connect(db_path, read_only=True) as con:
        return {scope: (cursor, error, skipped) for scope, cursor, error, skipped in con.execute(
            "SELECT scope, cursor, last_error, skipped FROM sync_state WHERE source = 'aws-cost-explorer'").fetchall()}


def test_cli_full_sync_against_moto_skips_the_commitments_it_lacks(aws, db_path, tmp_path, monkeypatch, pin_now,
                                                                    capsys, caplog):
    """moto 5.2.5 has no Savings Plans / reservation calls (answered 501 NotImplemented by the test
    server, tests/support/aws_support.py): the whole sync still succeeds, with costs and utilization written
    and one warning for commitments."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    pin_now(date(2026, 10, 3))
    ec2 = boto3.client("ec2", region_name="us-east-1")
    iid = ec2.run_instances(ImageId="ami-12345678", InstanceType="t3.large", MinCount=1,
                            MaxCount=1)["Instances"][0]["InstanceId"]
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
         "Timestamp": datetime(2026, 10, 2, h, 30, tzinfo=UTC), "Value": v, "Unit": "Percent"}
        for h, v in ((1, 10.0), (2, 30.0))])
    queue_cost_results(aws, {"ResultsByTime": [day_result("2026-10-01", [([A1, S3], 1.5, 1.5, 100)]),
                                               day_result("2026-10-02", [([A1, EC2], 10.0, 12.0, 24)])]})
    toml = tmp_path / "cadence.toml"
    toml.write_text('[sources.aws]\nlookback_months = 0\nutilization_days = 2\n')

    assert main(["--db", str(db_path), "--config", str(toml), "sync", "aws-costs"]) == 0
    out = capsys.readouterr().out
    assert "1 paid requests (USD 0.01" in out        # the refused call is not counted as paid
    assert "commitments: skipped (the endpoint lacks the calls); utilization: 1 rows" in out
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "collectors.aws_costs"]
    assert len(warnings) == 1 and f"the endpoint at {aws} {SP_UTILIZATION_LACKS}" in warnings[0]
    # effective 1.5 + 10.0 = 11.5
    assert sum(r[5] for r in cost_rows(db_path)) == pytest.approx(11.5)
    with connect(db_path, read_only=True) as con:
        util = con.execute("SELECT date, resource, metric, avg FROM utilization").fetchall()
        assert con.execute("SELECT count(*) FROM commitments").fetchone()[0] == 0
    assert util == [(date(2026, 10, 2), iid, "cpu", 0.2)]             # (10 % + 30 %) / 2
    states = sync_states(db_path)
    # costs and utilization succeeded; commitments shows on Data health as skipped (not failing)
    # with why, its cursor unmoved
    assert states["costs"] == ("2026-10-03", None, None) and states["utilization:us-east-1"][1:] == (None, None)
    assert states["commitments"][:2] == (None, None) and SP_UTILIZATION_LACKS in states["commitments"][2]


COSTS_OK = {"ResultsByTime": [day_result("2026-10-01", [([A1, S3], 4.0, 4.0, 1)])]}


@pytest.mark.parametrize("status, answer", [
    (501, {"__type": "InternalFailure", "message": "API action 'GetSavingsPlansUtilization' for service 'ce' "
                                                   "not yet implemented or pro feature"}),
    (501, {"__type": "NotImplemented", "message": ""}),
    (400, {"__type": "UnknownOperationException", "message": ""}),
    (400, {"__type": "InvalidAction", "message": "Unknown action"}),
    (500, {"__type": "InternalFailure", "message": "The action GetSavingsPlansUtilization is not implemented"}),
], ids=["501-localstack", "501-NotImplemented", "UnknownOperation", "InvalidAction", "500-with-text"])
def test_endpoint_saying_not_implemented_skips_the_part_at_once(monkeypatch, tmp_path, db_path, status, answer):
    with ScriptedAws([(200, COSTS_OK), (status, answer)]) as fake:
        point_boto3_at(monkeypatch, tmp_path, fake.url)
        report = aws_costs.sync(db_path, cfg(), parts=("costs", "commitments"), today=date(2026, 10, 2))
    assert len(fake.hits) == 2                      # costs, then one commitments call: not retried
    assert report.cost_rows == 1 and report.commitment_rows == 0
    assert SP_UTILIZATION_LACKS in report.skipped["commitments"]
    assert SP_UTILIZATION_LACKS in sync_states(db_path)["commitments"][2]


GENERIC_HTML_500 = ("<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>"
                    "<p>The server encountered an internal error.</p>")


@pytest.mark.parametrize("answer", [
    {"__type": "InternalFailure", "message": "We encountered an internal error. Please try again."},
    GENERIC_HTML_500,                                # a crashed framework's page
], ids=["aws-InternalFailure", "html-500"])
def test_a_generic_500_still_fails_after_retries(monkeypatch, tmp_path, db_path, answer):
    with ScriptedAws([(200, COSTS_OK), (500, answer)]) as fake:
        point_boto3_at(monkeypatch, tmp_path, fake.url)
        ce = aws_costs.make_client(boto3.Session(), "ce", "us-east-1", max_attempts=2)
        with pytest.raises(aws_costs.SourceError, match=r"ce:GetSavingsPlansUtilization failed: (InternalFailure|500)") as info:
            aws_costs.sync(db_path, cfg(), ce_client=ce, parts=("costs", "commitments"), today=date(2026, 10, 2))
    assert not isinstance(info.value, aws_costs.EndpointNotImplementedError)
    assert len(fake.hits) == 3                       # costs, then the 500 retried once (2 attempts)
    assert info.value.report.skipped == {} and info.value.report.cost_rows == 1
    assert "failed" in sync_states(db_path)["commitments"][1]


def test_not_implemented_signals():
    lacks = aws_costs.endpoint_lacks
    assert lacks(501, "", "") == "HTTP 501"
    assert lacks(400, "UnknownOperationException", "") == "UnknownOperationException"
    assert lacks(500, "InternalFailure", "The action X is not implemented") == "InternalFailure: not implemented"
    # bare 500s never: an HTML error page says nothing about the operation
    assert lacks(500, "InternalFailure", "We encountered an internal error") is None
    assert lacks(500, "500", "<html>Internal Server Error</html>") is None


def test_throttling_that_outlasts_the_retries_says_to_run_again(monkeypatch, tmp_path, db_path):
    throttled = {"__type": "ThrottlingException", "message": "Rate exceeded"}
    with ScriptedAws([(400, throttled)]) as fake:
        point_boto3_at(monkeypatch, tmp_path, fake.url)
        ce = aws_costs.make_client(boto3.Session(), "ce", "us-east-1", max_attempts=2)
        with pytest.raises(SourceRateLimitError, match=r"AWS kept throttling ce:GetCostAndUsage after 2 attempts "
                                                       r"with backoff \(ThrottlingException\); run the sync again"):
            aws_costs.sync(db_path, cfg(), ce_client=ce, parts=("costs",), today=date(2026, 10, 2))
    assert len(fake.hits) == 2
    assert cost_rows(db_path) == []
    cursor, error, _ = sync_states(db_path)["costs"]
    assert cursor is None and "kept throttling" in error


# -- a killed sync resumes ------------------------------------------------------------------------

PIN_TODAY_AND_RUN = ("import sys, datetime; from collectors.aws_costs import run; "
                     "run._today = lambda: datetime.date(2026, 10, 20); "
                     "from cadence.cli import main; sys.exit(main())")


def cost_days(first: str, last: str, groups, estimated_from: str | None = None) -> list[dict]:
    """ResultsByTime for each day first..last: ``groups(day_index)`` gives that day's groups."""
    from datetime import timedelta

    out, day, n = [], date.fromisoformat(first), 0
    while day <= date.fromisoformat(last):
        est = estimated_from is not None and day >= date.fromisoformat(estimated_from)
        out.append(day_result(day.isoformat(), groups(day, n), estimated=est))
        day, n = day + timedelta(days=1), n + 1
    return out


def tag_totals(day, n):
    return [(["team$payments"], 10, 10, 1), (["team$storefront"], 2, 2, 1), (["team$"], 1, 1, 1)]


def payments(final_shift):
    # Oct 8 and 9 are estimated in the first run; final figures are 0.5 higher.
    return lambda day, n: [([A1, EC2], 8 + n % 3 + (final_shift if day >= date(2026, 10, 8) else 0), 9, 24),
                           ([A1, S3], 1 + n % 2, 1, 50)]


def storefront(day, n):
    return [([A2, LAMBDA], 0.5 + n % 4 / 4, 0.5, 1000)]


def untagged(vanishing):
    # In the first run the estimate of Oct 9 holds a Lambda group that the final bill lacks.
    return lambda day, n: [(["333333333333", S3], 0.75, 0.75, 10)] + (
        [(["444444444444", LAMBDA], 0.2, 0.2, 5)] if vanishing and day == date(2026, 10, 9) else [])


# Run 1 (today 2026-10-10, lookback 1 month: 2026-09-01..10-09, Oct 8 and 9 estimated): 5 requests.
RUN_1 = ({"ResultsByTime": cost_days("2026-09-01", "2026-10-09", tag_totals, "2026-10-08")},
         {"ResultsByTime": cost_days("2026-09-01", "2026-09-20", payments(0)), "NextPageToken": "a-2"},
         {"ResultsByTime": cost_days("2026-09-21", "2026-10-09", payments(0), "2026-10-08")},
         {"ResultsByTime": cost_days("2026-09-01", "2026-10-09", storefront, "2026-10-08")},
         {"ResultsByTime": cost_days("2026-09-01", "2026-10-09", untagged(True), "2026-10-08")})
# Run 2 (today 2026-10-20: from the cursor, Oct 8, to Oct 19; Oct 18 and 19 estimated): 6 requests,
# the payments query in three pages.
RUN_2 = ({"ResultsByTime": cost_days("2026-10-08", "2026-10-19", tag_totals, "2026-10-18")},
         {"ResultsByTime": cost_days("2026-10-08", "2026-10-11", payments(0.5)), "NextPageToken": "b-2"},
         {"ResultsByTime": cost_days("2026-10-12", "2026-10-15", payments(0.5)), "NextPageToken": "b-3"},
         {"ResultsByTime": cost_days("2026-10-16", "2026-10-19", payments(0.5), "2026-10-18")},
         {"ResultsByTime": cost_days("2026-10-08", "2026-10-19", storefront, "2026-10-18")},
         {"ResultsByTime": cost_days("2026-10-08", "2026-10-19", untagged(False), "2026-10-18")})


@pytest.mark.slow
def test_a_killed_sync_resumes_without_loss_or_duplicates(aws, tmp_path, monkeypatch, pin_now):
    """`cadence sync aws-costs` in its own process, killed (SIGKILL) while the second page of a
    Cost Explorer query hangs in a proxy in front of moto, on a warehouse holding an earlier run with
    estimated days: nothing of the earlier run is lost, and the next run ends with exactly the rows
    and cursors of one clean run."""
    import threading

    from tests.support.aws_support import HoldingProxy
    from tests.support.kill_support import kill_while_held

    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    iid = boto3.client("ec2", region_name="us-east-1").run_instances(
        ImageId="ami-12345678", InstanceType="t3.large", MinCount=1, MaxCount=1, TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "payments"}]}])["Instances"][0]["InstanceId"]
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
         "Timestamp": datetime(2026, 10, day, hour, 30, tzinfo=UTC), "Value": value, "Unit": "Percent"}
        for day in (8, 9, 18, 19) for hour, value in ((1, day * 2.0), (2, day * 4.0))])
    toml = tmp_path / "cadence.toml"
    toml.write_text('[sources.aws]\nteam_tag = "team"\nlookback_months = 1\nutilization_days = 3\n'
                    '[teams.payments]\ncost_tags = ["payments"]\n[teams.storefront]\ncost_tags = ["storefront"]\n'
                    '[cost_allocation.accounts]\n"333333333333" = "storefront"\n', encoding="utf-8")

    def snapshot(db):
        with connect(db, read_only=True) as con:
            return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                    for table in ("costs", "utilization", "commitments")} | {
                "state": con.execute("SELECT scope, cursor, details, last_error FROM sync_state "
                                     "ORDER BY scope").fetchall()}

    def sync_cli(db, today):
        pin_now(today)
        return main(["--db", str(db), "--config", str(toml), "sync", "aws-costs"])

    queue_cost_results(aws, *RUN_1, *RUN_2)
    with HoldingProxy(aws) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        # Run 1 into two warehouses (moto answers a repeated request with the same result).
        reference, db = tmp_path / "reference.duckdb", tmp_path / "killed.duckdb"
        assert sync_cli(reference, date(2026, 10, 10)) == 0
        assert sync_cli(db, date(2026, 10, 10)) == 0
        after_run_1 = snapshot(db)
        assert after_run_1 == snapshot(reference)
        est = [r for r in after_run_1["costs"] if r[0] >= date(2026, 10, 8)]
        # Oct 8 and 9: EC2 + S3 (payments), Lambda (storefront), S3 of 333…, and on Oct 9 the Lambda
        # of 444…: 2 × 4 + 1 = 9 estimated rows
        assert len(est) == 9 and all(r[-1] for r in est)
        assert dict((s, c) for s, c, *_ in after_run_1["state"])["costs"] == "2026-10-08"
        assert len(after_run_1["utilization"]) == 2                     # Oct 8 and 9, cpu

        # Run 2, clean, into the reference.
        assert sync_cli(reference, date(2026, 10, 20)) == 0
        expected = snapshot(reference)

        # Run 2 in its own process: the tag query and the payments query's first page pass, its
        # second page is held, and the process is killed while it waits.
        release = threading.Event()
        proxy.calls.clear()
        proxy.hold("GetCostAndUsage", release, after=2)
        kill_while_held(PIN_TODAY_AND_RUN, ["--db", str(db), "--config", str(toml), "sync", "aws-costs"],
                        lambda: proxy.held, release)
        assert [c.rsplit(".", 1)[-1] for c in proxy.calls] == ["GetCostAndUsage"] * 2

        # Nothing of run 2 was committed and nothing of run 1 was lost: the estimates and cursors stand.
        assert snapshot(db) == after_run_1

        # Run again: it fetches from the cursor again and ends where the clean run did.
        assert sync_cli(db, date(2026, 10, 20)) == 0
    got = snapshot(db)
    assert got == expected
    # (day, account, service) → (effective_cost, estimated)
    before = {(r[0], r[4], r[5]): (r[13], r[-1]) for r in after_run_1["costs"]}
    costs = {(r[0], r[4], r[5]): (r[13], r[-1]) for r in got["costs"]}
    # Oct 8 EC2: estimate on run 1's second payments page (from Sep 21, so n = 17): 8 + 17 % 3 = 10;
    # final on run 2's first page (n = 0): 8 + 0 + 0.5 = 8.5, no longer estimated.
    assert before[(date(2026, 10, 8), A1, EC2)] == (10.0, True)
    assert costs[(date(2026, 10, 8), A1, EC2)] == (8.5, False)
    assert (date(2026, 10, 9), "444444444444", LAMBDA) in before
    assert (date(2026, 10, 9), "444444444444", LAMBDA) not in costs   # gone from the final bill
    per_day = {}
    for r in got["costs"]:
        per_day[r[0]] = per_day.get(r[0], 0) + 1
    # 4 groups a day (EC2, S3, Lambda, S3 of 333…), once each, Sep 1 .. Oct 19 = 30 + 19 = 49 days
    assert set(per_day.values()) == {4} and len(per_day) == 49
    assert sorted({r[0] for r in got["utilization"]}) == [date(2026, 10, d) for d in (8, 9, 18, 19)]
