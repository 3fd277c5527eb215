"""EC2 instances and ECS services found, then their CloudWatch CPU (hourly averages) → ``utilization``
with the daily average and p95 as fractions of capacity."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from cadence.core.allocation import Allocator
from collectors.aws_costs.calls import call_api
from collectors.aws_costs.settings import PROVIDER, AwsSettings

MAX_METRIC_QUERIES = 500


@dataclass(frozen=True)
class Resource:
    resource: str
    service: str
    team: str
    metric: str                    # cpu / memory
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    capacity: float | None


def _tag_team(tags: dict[str, str], settings: AwsSettings, allocator: Allocator) -> str:
    value = tags.get(settings.team_tag, "") if settings.team_tag else ""
    return allocator.team(value, (), None)


def discover_ec2(ec2, cloudwatch, settings: AwsSettings, allocator: Allocator) -> list[Resource]:
    """Running and stopped EC2 instances: CPU always, memory where the CloudWatch agent publishes it."""
    instances = {}
    token = None
    while True:
        kw = {"Filters": [{"Name": "instance-state-name", "Values": ["running", "stopped"]}],
              **({"NextToken": token} if token else {})}
        page = call_api(ec2, "describe_instances", **kw)
        for reservation in page.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                instances[inst["InstanceId"]] = inst
        token = page.get("NextToken")
        if not token:
            break
    if not instances:
        return []
    types = sorted({i["InstanceType"] for i in instances.values()})
    vcpus, gib = {}, {}
    for i in range(0, len(types), 100):
        page = call_api(ec2, "describe_instance_types", InstanceTypes=types[i:i + 100])
        for t in page.get("InstanceTypes", []):
            vcpus[t["InstanceType"]] = t.get("VCpuInfo", {}).get("DefaultVCpus")
            mib = t.get("MemoryInfo", {}).get("SizeInMiB")
            gib[t["InstanceType"]] = mib / 1024 if mib else None
    memory_dims: dict[str, tuple] = {}
    token = None
    while True:
        kw = {"Namespace": "CWAgent", "MetricName": "mem_used_percent", **({"NextToken": token} if token else {})}
        page = call_api(cloudwatch, "list_metrics", **kw)
        for metric in page.get("Metrics", []):
            dims = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
            instance = dict(dims).get("InstanceId")
            if instance in instances and instance not in memory_dims:
                memory_dims[instance] = dims
        token = page.get("NextToken")
        if not token:
            break
    out = []
    for iid, inst in sorted(instances.items()):
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        team = _tag_team(tags, settings, allocator)
        service = "Amazon Elastic Compute Cloud - Compute"
        out.append(Resource(iid, service, team, "cpu", "AWS/EC2", "CPUUtilization",
                            (("InstanceId", iid),), vcpus.get(inst["InstanceType"])))
        if iid in memory_dims:
            out.append(Resource(iid, service, team, "memory", "CWAgent", "mem_used_percent",
                                memory_dims[iid], gib.get(inst["InstanceType"])))
    return out


def discover_ecs(ecs, settings: AwsSettings, allocator: Allocator) -> list[Resource]:
    """ECS services: CPU and memory utilization against the reserved task size × desired count."""
    clusters, token = [], None
    while True:
        page = call_api(ecs, "list_clusters", **({"nextToken": token} if token else {}))
        clusters += page.get("clusterArns", [])
        token = page.get("nextToken")
        if not token:
            break
    out, task_defs = [], {}
    for cluster_arn in clusters:
        cluster = cluster_arn.rsplit("/", 1)[-1]
        arns, token = [], None
        while True:
            page = call_api(ecs, "list_services", cluster=cluster_arn, **({"nextToken": token} if token else {}))
            arns += page.get("serviceArns", [])
            token = page.get("nextToken")
            if not token:
                break
        for i in range(0, len(arns), 10):
            described = call_api(ecs, "describe_services", cluster=cluster_arn, services=arns[i:i + 10],
                              include=["TAGS"])
            for svc in described.get("services", []):
                td_arn = svc.get("taskDefinition")
                if td_arn and td_arn not in task_defs:
                    task_defs[td_arn] = call_api(ecs, "describe_task_definition",
                                              taskDefinition=td_arn).get("taskDefinition", {})
                td = task_defs.get(td_arn, {})
                count = svc.get("desiredCount") or 0
                cpu_units = float(td["cpu"]) if td.get("cpu") else None
                mem_mib = float(td["memory"]) if td.get("memory") else None
                tags = {t["key"]: t["value"] for t in svc.get("tags", [])}
                team = _tag_team(tags, settings, allocator)
                name = svc["serviceName"]
                resource = f"ecs:{cluster}/{name}"
                dims = (("ClusterName", cluster), ("ServiceName", name))
                out.append(Resource(resource, "Amazon Elastic Container Service", team, "cpu", "AWS/ECS",
                                    "CPUUtilization", dims, cpu_units / 1024 * count if cpu_units else None))
                out.append(Resource(resource, "Amazon Elastic Container Service", team, "memory", "AWS/ECS",
                                    "MemoryUtilization", dims, mem_mib / 1024 * count if mem_mib else None))
    return out


def fetch_utilization(cloudwatch, resources: list[Resource], start: date, end: date) -> list[dict]:
    """Daily avg and p95 of the hourly averages of each resource's metric for [start, end).

    Values are percentages in CloudWatch; stored as fractions capped to 0..1 (an ECS service may
    run above its reservation, but cost of idle cannot go below zero).
    """
    hourly: dict[str, dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
    t1 = datetime(end.year, end.month, end.day, tzinfo=UTC)
    for i in range(0, len(resources), MAX_METRIC_QUERIES):
        batch = resources[i:i + MAX_METRIC_QUERIES]
        queries = [{"Id": f"q{i + j}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": r.namespace, "MetricName": r.metric_name,
                       "Dimensions": [{"Name": n, "Value": v} for n, v in r.dimensions]},
            "Period": 3600, "Stat": "Average"}} for j, r in enumerate(batch)]
        token = None
        while True:
            kw = {"MetricDataQueries": queries, "StartTime": t0, "EndTime": t1,
                  **({"NextToken": token} if token else {})}
            page = call_api(cloudwatch, "get_metric_data", **kw)
            for result in page.get("MetricDataResults", []):
                for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    if value is None:
                        continue
                    day = ts.astimezone(UTC).date() if ts.tzinfo else ts.date()
                    if start <= day < end:
                        hourly[result["Id"]][day].append(float(value))
            token = page.get("NextToken")
            if not token:
                break
    rows = []
    for n, r in enumerate(resources):
        for day, values in sorted(hourly.get(f"q{n}", {}).items()):
            arr = np.clip(np.asarray(values) / 100.0, 0.0, 1.0)
            rows.append({"date": day, "provider": PROVIDER, "resource": r.resource, "service": r.service,
                         "team": r.team, "metric": r.metric, "avg": round(float(arr.mean()), 6),
                         "p95": round(float(np.percentile(arr, 95)), 6), "capacity": r.capacity})
    return rows
