"""The demo warehouse: twelve months of a believable engineering organisation.

``cadence demo`` (and ``make run`` when no real database is configured) writes this so a new user
sees a working dashboard before connecting any source. The organisation is *Brightcart*, an online
retailer with six teams whose delivery profiles differ on purpose:

=============  ===========================================================================
platform       elite: continuous deployment, several deploys a day, lead time in hours,
               CFR ~3 %, recovery within the hour
growth         high: deploys daily behind a short approval, lead time about a day
catalog        medium, and clearly over-provisioned (search cluster idles at ~8 % CPU)
data           medium-low: batchy deploys, incidents from pipelines
checkout       improving: moves mid-year from fortnightly releases to daily deploys
fulfilment     struggling: a weekly release train, lead times of weeks, CFR ~25 %,
               recovery in days
=============  ===========================================================================

Everything is drawn from one ``numpy`` Generator seeded by ``seed``, and the twelve months end at
a fixed anchor (the Sunday before ``today``), so the same seed and ``today`` give identical rows.
Rows go through ``warehouse.upsert_rows`` like real data, into a temporary file beside the target
that replaces it atomically, so a dashboard never sees half a demo. The demo's team configuration
is stored in ``warehouse_meta`` (``demo_config``) for ``warehouse.meta.effective_config``, with the
SLOs of cadence/demo_slo.py, whose hourly SLIs go into ``sli_hours``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from cadence.core.clock import utcnow
from cadence.core.errors import WarehouseError

log = logging.getLogger(__name__)

ORG = "brightcart"
SOURCE = "demo"
WEEKS = 52
GIT_URL = "https://git.brightcart.example"
CI_URL = "https://ci.brightcart.example"
PAGER_URL = "https://brightcart.pagerduty.example/incidents"

# -------------------------------------------------------------------------------------------------
# The organisation
# -------------------------------------------------------------------------------------------------

Value = float | tuple[float, float]  # a constant, or (start of year, end of year) for "improving"


@dataclass(frozen=True)
class Profile:
    """How a team works. A tuple value moves from its first to its second figure over the year
    (along an S-curve centred a little before mid-year: the team changed how it ships)."""

    pr_rate: Value                 # merged pull requests per working day, per repo
    deploy_mode: str               # "cd" (each merge deploys), "scheduled" or "train" (weekly)
    coding_hours: Value            # medians of the heavy-tailed (log-normal) stage durations
    pickup_hours: Value
    review_hours: Value
    deploy_rate: Value = 0.0       # scheduled / off-train deploys per working day, per service
    pipeline_hours: Value = 0.5    # cd: merge -> production deploy start (median)
    train_weekday: int = 3         # train: the release day (Thursday)
    train_share: float = 0.8       # train: share of weeks a service rides the train
    duration_minutes: Value = 10.0
    fail_rate: Value = 0.05        # share of production attempts that fail and are retried
    retry_hours: float = 0.5
    staging_share: float = 0.8     # share of production deploys preceded by a staging one
    staging_hours: Value = 1.0     # how long before production it went to staging (median)
    incident_rate: Value = 0.05    # share of production deploys that cause an incident
    rollback_rate: float = 0.01
    recovery_hours: Value = 4.0    # median incident duration
    background_incidents: int = 5  # incidents per year not caused by a deployment
    weekend: float = 0.05          # weekend activity relative to a weekday
    center_hour: float = 12.0      # middle of the team's working day, in UTC
    growth: float = 0.25           # yearly growth of its cloud spend


@dataclass(frozen=True)
class TeamSpec:
    name: str
    profile: Profile
    repos: dict[str, tuple[str, ...]]       # repo (without org) -> services it deploys
    cost_tags: tuple[str, ...]
    authors: tuple[str, ...]
    nouns: tuple[str, ...]                  # what its pull requests are about
    libraries: tuple[str, ...]
    extra_services: tuple[str, ...] = ()    # services it owns that it does not deploy (e.g. cdn)
    accounts: tuple[str, ...] = ()          # account keys it owns outright
    conventional: bool = False              # titles as conventional commits ("feat: ...") and no labels
    unplanned_rise: float = 0.0             # share of planned work that turns into bug fixes by year end


TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        "platform",
        Profile(pr_rate=3.0, deploy_mode="cd", pipeline_hours=0.35, coding_hours=2.5,
                pickup_hours=0.6, review_hours=0.9, duration_minutes=6, fail_rate=0.05,
                retry_hours=0.3, staging_share=0.95, staging_hours=0.3, incident_rate=0.022,
                rollback_rate=0.01, recovery_hours=0.6, background_incidents=6, weekend=0.06,
                center_hour=11.5, growth=0.22),
        {"edge-gateway": ("edge-gateway",), "identity-service": ("identity",),
         "feature-flags": ("feature-flags",)},
        ("platform",),
        ("mkowalski", "anaribeiro", "jonas-weber", "priya-iyer", "dkim", "lena-vogt"),
        ("rate limiter", "TLS termination", "JWT validation", "session store", "OIDC login",
         "flag evaluation", "percentage rollouts", "request routing", "connection pooling",
         "health checks", "circuit breaker", "audit log", "API keys", "SAML metadata"),
        ("golang.org/x/net", "google.golang.org/grpc", "github.com/prometheus/client_golang",
         "go.opentelemetry.io/otel", "github.com/redis/go-redis/v9"),
        extra_services=("cdn",), accounts=("shared",), conventional=True,
    ),
    TeamSpec(
        "growth",
        Profile(pr_rate=1.5, deploy_mode="cd", pipeline_hours=2.5, coding_hours=9,
                pickup_hours=3.5, review_hours=3, duration_minutes=12, fail_rate=0.07,
                retry_hours=0.6, staging_share=0.85, staging_hours=1.0, incident_rate=0.065,
                rollback_rate=0.012, recovery_hours=3.5, background_incidents=6, weekend=0.08,
                center_hour=17.5, growth=0.45),
        {"storefront-web": ("storefront",), "mobile-bff": ("mobile-bff",),
         "notifications": ("notifications",), "design-system": ()},
        ("growth", "web"),
        ("jess-taylor", "luis-ortega", "aiko-sato", "chris-obrien", "nadia-haddad"),
        ("product page", "search bar", "wishlist", "push opt-in", "email templates",
         "A/B test for hero banner", "image lazy loading", "app deep links", "referral codes",
         "newsletter signup", "Core Web Vitals", "button component", "dark mode tokens"),
        ("next", "react", "typescript", "@aws-sdk/client-sns", "eslint", "storybook"),
        conventional=True,
    ),
    TeamSpec(
        "catalog",
        Profile(pr_rate=1.2, deploy_mode="scheduled", deploy_rate=0.5, coding_hours=20,
                pickup_hours=10, review_hours=9, duration_minutes=18, fail_rate=0.09,
                retry_hours=1.5, staging_share=0.7, staging_hours=4, incident_rate=0.10,
                rollback_rate=0.015, recovery_hours=9, background_incidents=5, weekend=0.04,
                center_hour=13.0, growth=0.10),
        {"catalog-api": ("catalog-api",), "search": ("search-api", "search-indexer"),
         "pricing-engine": ("pricing",)},
        ("catalog", "search"),
        ("nguyen-linh", "oscar-lind", "fatima-zahra", "pgreen", "tobias-k"),
        ("product variants", "facet counts", "synonym dictionary", "price rules",
         "bulk import", "reindex job", "category tree", "currency conversion", "stock badges",
         "search relevance", "promotions engine", "product feed export"),
        ("fastapi", "pydantic", "opensearch-py", "sqlalchemy", "celery", "boto3"),
    ),
    TeamSpec(
        "data",
        Profile(pr_rate=0.9, deploy_mode="scheduled", deploy_rate=0.3, coding_hours=30,
                pickup_hours=16, review_hours=12, duration_minutes=25, fail_rate=0.12,
                retry_hours=3, staging_share=0.4, staging_hours=6, incident_rate=0.13,
                rollback_rate=0.01, recovery_hours=14, background_incidents=8, weekend=0.03,
                center_hour=14.0, growth=0.55),
        {"data-pipelines": ("pipelines",), "recommendations": ("recommendations",)},
        ("data",),
        ("arjun-mehta", "sara-berg", "wliu", "elena-popescu"),
        ("orders fact table", "clickstream ingestion", "dbt models", "feature store",
         "similar-items model", "GDPR deletion job", "late-arriving events", "backfill DAG",
         "embedding refresh", "revenue dashboard feed"),
        ("apache-airflow", "pyspark", "dbt-core", "pandas", "scikit-learn"),
        accounts=("analytics",),
    ),
    TeamSpec(
        "checkout",
        Profile(pr_rate=(1.0, 1.9), deploy_mode="scheduled", deploy_rate=(0.12, 1.6),
                coding_hours=(36, 6), pickup_hours=(26, 1.5), review_hours=(18, 2.0),
                duration_minutes=(30, 8), fail_rate=(0.15, 0.04), retry_hours=2,
                staging_share=0.8, staging_hours=(28, 0.6), incident_rate=(0.20, 0.04),
                rollback_rate=0.015, recovery_hours=(26, 2.0), background_incidents=5,
                weekend=0.05, center_hour=12.0, growth=0.20),
        {"checkout-api": ("checkout-api",), "payments-service": ("payments",),
         "cart-service": ("cart",)},
        ("checkout", "payments"),
        ("sofia-marin", "ben-okafor", "lhansen", "raj-patel", "emily-chen", "tmuller"),
        ("payment intents", "3-D Secure flow", "refund endpoint", "promo codes",
         "tax calculation", "address validation", "basket merge on login", "order confirmation",
         "idempotency keys", "PayPal webhook", "gift cards", "checkout timeout"),
        ("org.springframework.boot", "com.stripe:stripe-java", "io.micrometer:micrometer-core",
         "org.postgresql:postgresql", "com.fasterxml.jackson.core"),
    ),
    TeamSpec(
        "fulfilment",
        Profile(pr_rate=0.9, deploy_mode="train", deploy_rate=0.04, train_weekday=3,
                train_share=0.8, coding_hours=80, pickup_hours=48, review_hours=36,
                duration_minutes=45, fail_rate=0.2, retry_hours=5, staging_share=1.0,
                staging_hours=30, incident_rate=0.22, rollback_rate=0.04, recovery_hours=30,
                background_incidents=8, weekend=0.03, center_hour=10.0, growth=0.05),
        {"orders-monolith": ("orders",), "warehouse-integration": ("wms-sync",),
         "shipping-labels": ("shipping",)},
        ("fulfilment",),
        ("hbauer", "marco-rossi", "kwame-asante", "e-ivanova"),
        ("pick list export", "carrier rate lookup", "returns flow", "stock reservation",
         "WMS sync job", "label printing", "split shipments", "order status emails",
         "SOAP client for carrier API", "batch invoicing", "legacy order import"),
        ("org.hibernate:hibernate-core", "org.apache.logging.log4j:log4j-core",
         "com.fasterxml.jackson.core:jackson-databind", "org.apache.cxf:cxf-core"),
        unplanned_rise=0.6,   # the legacy monolith: bug fixes crowd out planned work over the year
    ),
)

# Repos whose CD tool reports exactly which pull requests a deployment shipped.
EXPLICIT_LINK_REPOS = frozenset({f"{ORG}/edge-gateway", f"{ORG}/identity-service",
                                 f"{ORG}/data-pipelines"})

# (key, account id, name). All linked accounts roll up to the management (payer) account.
ACCOUNTS = {
    "management": ("738921045116", "brightcart-management"),
    "prod": ("204518763390", "brightcart-prod"),
    "staging": ("519834072265", "brightcart-staging"),
    "shared": ("867305129948", "brightcart-shared-services"),
    "analytics": ("331290486571", "brightcart-analytics"),
    "sandbox": ("642078815302", "brightcart-sandbox"),
}
PAYER = ACCOUNTS["management"][0]

# service name -> (FOCUS service category, usage unit, USD per unit) for consumed_quantity
SERVICES = {
    "Amazon Elastic Compute Cloud": ("Compute", "Hrs", 0.192),
    "Amazon Elastic Container Service": ("Compute", "vCPU-Hours", 0.04048),
    "AWS Lambda": ("Compute", "GB-Seconds", 0.0000166667),
    "Amazon Elastic Kubernetes Service": ("Compute", "Hrs", 0.10),
    "Amazon Relational Database Service": ("Databases", "Hrs", 0.52),
    "Amazon DynamoDB": ("Databases", "WriteRequestUnits", 0.00000125),
    "Amazon ElastiCache": ("Databases", "NodeUsage-Hrs", 0.258),
    "Amazon Redshift": ("Analytics", "Node-Hrs", 3.26),
    "Amazon OpenSearch Service": ("Analytics", "Hrs", 0.335),
    "Amazon Simple Storage Service": ("Storage", "GB-Mo", 0.023),
    "Amazon Elastic File System": ("Storage", "GB-Mo", 0.30),
    "AWS Backup": ("Storage", "GB-Mo", 0.05),
    "Amazon CloudFront": ("Networking", "GB", 0.085),
    "Elastic Load Balancing": ("Networking", "LCU-Hrs", 0.008),
    "Amazon Virtual Private Cloud": ("Networking", "NatGateway-Hours", 0.045),
    "AWS Data Transfer": ("Networking", "GB", 0.09),
    "Amazon Route 53": ("Networking", "Queries", 0.0000004),
    "Amazon API Gateway": ("Networking", "Requests", 0.0000035),
    "AWS WAF": ("Security", "Requests", 0.0000006),
    "AWS Key Management Service": ("Security", "Requests", 0.000003),
    "AWS Secrets Manager": ("Security", "Secrets", 0.0133),
    "Amazon GuardDuty": ("Security", "Events", 0.000001),
    "AWS Security Hub": ("Security", "Checks", 0.001),
    "AmazonCloudWatch": ("Management and Governance", "GB", 0.50),
    "AWS CloudTrail": ("Management and Governance", "Events", 0.000002),
    "AWS Config": ("Management and Governance", "ConfigurationItemRecorded", 0.003),
    "AWS Cost Explorer": ("Management and Governance", "Requests", 0.01),
    "Amazon Simple Queue Service": ("Integration", "Requests", 0.0000004),
    "Amazon Simple Notification Service": ("Integration", "Notifications", 0.0000005),
    "AWS Step Functions": ("Integration", "StateTransitions", 0.000025),
    "Amazon Kinesis": ("Analytics", "ShardHour", 0.015),
    "AWS Glue": ("Analytics", "DPU-Hour", 0.44),
    "Amazon Athena": ("Analytics", "TB", 5.0),
    "Amazon EMR": ("Analytics", "Hrs", 0.27),
    "Amazon SageMaker": ("AI and Machine Learning", "Hrs", 0.23),
    "Amazon Simple Email Service": ("Business Applications", "Messages", 0.0001),
    "Amazon Elastic Container Registry": ("Developer Tools", "GB-Mo", 0.10),
    "AWS Support (Business)": ("Other", None, None),
    "Savings Plans for AWS Compute usage": ("Compute", None, None),
}
SP_SERVICES = ("Amazon Elastic Compute Cloud", "Amazon Elastic Container Service", "AWS Lambda")
RDS = "Amazon Relational Database Service"
SP_DISCOUNT = 0.28
RI_DISCOUNT = 0.40

# Per team: (service, USD per day at the start, pattern, region, cost tag or None for the first).
# Patterns: traffic (customer-driven, peaks around Black Friday), steady, storage (grows
# linearly), batch (month-end runs), office (working hours: CI, dev).
COST_LINES: dict[str, list[tuple[str, float, str, str, str | None]]] = {
    "platform": [
        ("Amazon Elastic Compute Cloud", 300, "traffic", "us-east-1", None),
        ("Amazon Elastic Compute Cloud", 120, "traffic", "eu-west-1", None),
        ("Elastic Load Balancing", 60, "traffic", "us-east-1", None),
        ("Amazon CloudFront", 180, "traffic", "global", None),
        ("AWS WAF", 25, "traffic", "global", None),
        ("Amazon Route 53", 6, "steady", "global", None),
        ("Amazon ElastiCache", 90, "steady", "us-east-1", None),
        ("Amazon DynamoDB", 35, "traffic", "us-east-1", None),
        ("AWS Lambda", 20, "traffic", "us-east-1", None),
        ("AmazonCloudWatch", 55, "steady", "us-east-1", None),
        ("AWS Key Management Service", 8, "steady", "us-east-1", None),
        ("AWS Secrets Manager", 4, "steady", "us-east-1", None),
        ("Amazon Elastic Kubernetes Service", 15, "steady", "us-east-1", None),
    ],
    "growth": [
        ("Amazon CloudFront", 160, "traffic", "global", "web"),
        ("Amazon Simple Storage Service", 50, "storage", "us-east-1", "web"),
        ("AWS Lambda", 70, "traffic", "us-east-1", "web"),
        ("Amazon Elastic Container Service", 140, "traffic", "us-east-1", None),
        ("Amazon DynamoDB", 60, "traffic", "us-east-1", None),
        ("Amazon Simple Notification Service", 35, "traffic", "us-east-1", None),
        ("AmazonCloudWatch", 30, "steady", "us-east-1", None),
        ("Amazon API Gateway", 20, "traffic", "us-east-1", None),
    ],
    "catalog": [
        ("Amazon Elastic Compute Cloud", 520, "steady", "us-east-1", "search"),
        ("Amazon OpenSearch Service", 380, "steady", "us-east-1", "search"),
        ("Amazon Relational Database Service", 210, "steady", "us-east-1", None),
        ("Amazon Simple Storage Service", 150, "storage", "us-east-1", None),
        ("AWS Lambda", 40, "traffic", "us-east-1", None),
        ("Amazon DynamoDB", 55, "traffic", "us-east-1", None),
        ("AmazonCloudWatch", 35, "steady", "us-east-1", None),
        ("Amazon Simple Queue Service", 9, "traffic", "us-east-1", None),
    ],
    "data": [
        ("Amazon Redshift", 620, "steady", "us-east-1", None),
        ("AWS Glue", 140, "batch", "us-east-1", None),
        ("Amazon Athena", 45, "batch", "us-east-1", None),
        ("Amazon Kinesis", 85, "traffic", "us-east-1", None),
        ("Amazon Simple Storage Service", 260, "storage", "us-east-1", None),
        ("Amazon EMR", 180, "office", "us-east-1", None),
        ("Amazon SageMaker", 120, "steady", "us-east-1", None),
        ("AWS Lambda", 15, "batch", "us-east-1", None),
    ],
    "checkout": [
        ("Amazon Elastic Container Service", 210, "traffic", "us-east-1", None),
        ("Amazon Relational Database Service", 330, "steady", "us-east-1", "payments"),
        ("Amazon ElastiCache", 60, "traffic", "us-east-1", None),
        ("Amazon Simple Queue Service", 12, "traffic", "us-east-1", "payments"),
        ("Amazon Simple Notification Service", 4, "traffic", "us-east-1", None),
        ("AWS Lambda", 30, "traffic", "us-east-1", "payments"),
        ("AmazonCloudWatch", 40, "steady", "us-east-1", None),
        ("AWS Key Management Service", 6, "steady", "us-east-1", "payments"),
        ("Amazon API Gateway", 45, "traffic", "us-east-1", None),
    ],
    "fulfilment": [
        ("Amazon Elastic Compute Cloud", 350, "steady", "eu-central-1", None),
        ("Amazon Relational Database Service", 480, "steady", "eu-central-1", None),
        ("Amazon Elastic File System", 40, "storage", "eu-central-1", None),
        ("Amazon Simple Storage Service", 25, "storage", "eu-central-1", None),
        ("Amazon Simple Queue Service", 8, "traffic", "eu-central-1", None),
        ("AWS Step Functions", 15, "traffic", "eu-central-1", None),
        ("AWS Glue", 30, "batch", "eu-central-1", None),
        ("AWS Backup", 20, "storage", "eu-central-1", None),
    ],
}
# (account, service, USD/day, pattern, region, tag). Mostly untagged: shared plumbing.
SHARED_LINES: list[tuple[str, str, float, str, str, str]] = [
    ("prod", "AWS Data Transfer", 150, "traffic", "us-east-1", ""),
    ("prod", "Amazon Virtual Private Cloud", 95, "steady", "us-east-1", ""),
    ("prod", "AmazonCloudWatch", 60, "steady", "us-east-1", ""),
    ("prod", "Amazon Simple Storage Service", 45, "storage", "us-east-1", ""),
    ("prod", "Amazon Simple Email Service", 25, "traffic", "us-east-1", ""),
    ("prod", "AWS Config", 14, "steady", "us-east-1", ""),
    ("prod", "Amazon GuardDuty", 18, "traffic", "us-east-1", ""),
    ("prod", "AWS Security Hub", 7, "steady", "us-east-1", ""),
    ("prod", "Amazon CloudFront", 30, "traffic", "global", "marketing"),   # tag with no team
    ("prod", "Amazon Simple Storage Service", 12, "storage", "us-east-1", "marketing"),
    ("staging", "Amazon Virtual Private Cloud", 35, "steady", "us-east-1", ""),
    ("staging", "AWS Config", 6, "steady", "us-east-1", ""),
    ("staging", "Amazon GuardDuty", 5, "steady", "us-east-1", ""),
    ("shared", "Amazon Elastic Compute Cloud", 260, "office", "us-east-1", ""),   # CI runners
    ("shared", "Amazon Elastic Container Registry", 12, "storage", "us-east-1", ""),
    ("shared", "Amazon Simple Storage Service", 18, "storage", "us-east-1", ""),
    ("shared", "Amazon Virtual Private Cloud", 22, "steady", "us-east-1", ""),
    ("analytics", "AWS Data Transfer", 40, "batch", "us-east-1", ""),
    ("analytics", "AmazonCloudWatch", 18, "steady", "us-east-1", ""),
    ("sandbox", "Amazon Elastic Compute Cloud", 40, "office", "us-west-2", ""),
    ("sandbox", "Amazon Simple Storage Service", 6, "storage", "us-west-2", ""),
    ("management", "AWS CloudTrail", 12, "steady", "us-east-1", ""),
    ("management", "AWS Cost Explorer", 0.4, "steady", "us-east-1", ""),
]

# Untagged spend on these services is allocated to a team by rule (SES cannot carry our tags).
COST_ALLOCATION_SERVICES = {"Amazon Simple Email Service": "growth"}
COST_ALLOCATION_ACCOUNTS = {"shared": "platform"}

# Compute for the utilization table: service -> (instances or tasks, vCPU, GiB, cpu, mem, kind).
UTILIZATION = {
    "edge-gateway": (6, 4, 8, 0.46, 0.55, "ec2"), "identity": (4, 2, 4, 0.38, 0.62, "ecs"),
    "feature-flags": (3, 1, 2, 0.31, 0.48, "ecs"),
    "storefront": (8, 2, 4, 0.42, 0.58, "ecs"), "mobile-bff": (4, 2, 4, 0.37, 0.52, "ecs"),
    "notifications": (2, 1, 2, 0.28, 0.45, "ecs"),
    "catalog-api": (4, 4, 16, 0.11, 0.24, "ec2"), "search-api": (6, 8, 64, 0.08, 0.21, "ec2"),
    "search-indexer": (2, 16, 64, 0.06, 0.18, "ec2"), "pricing": (3, 4, 16, 0.09, 0.2, "ec2"),
    "pipelines": (3, 8, 32, 0.33, 0.61, "ec2"), "recommendations": (2, 4, 16, 0.41, 0.66, "ecs"),
    "checkout-api": (6, 2, 4, 0.44, 0.57, "ecs"), "payments": (4, 2, 4, 0.36, 0.55, "ecs"),
    "cart": (4, 1, 2, 0.4, 0.5, "ecs"),
    "orders": (4, 8, 32, 0.48, 0.74, "ec2"), "wms-sync": (2, 4, 8, 0.35, 0.6, "ec2"),
    "shipping": (2, 2, 4, 0.3, 0.52, "ec2"),
}


def _team_tag(team: TeamSpec, tag: str | None) -> str:
    return tag or team.cost_tags[0]


def demo_config() -> dict:
    """The demo organisation's configuration document (same shape as cadence.toml)."""
    teams = {}
    for team in TEAMS:
        body = {"repos": [f"{ORG}/{r}" for r in team.repos],
                "services": [s for svcs in team.repos.values() for s in svcs] + list(team.extra_services),
                "cost_tags": list(team.cost_tags)}
        if team.accounts:
            body["accounts"] = [ACCOUNTS[a][0] for a in team.accounts]
        teams[team.name] = body
    from cadence.demo_slo import demo_slos

    from cadence.demo_pipelines import MOBILE_REPO, MOBILE_TEAM   # a repo with CI runs only (issue 18)
    teams[MOBILE_TEAM]["repos"].append(f"{ORG}/{MOBILE_REPO}")
    return {
        "teams": teams,
        "slos": demo_slos(),  # fed by the demo's hourly SLIs (cadence/demo_slo.py), not by Prometheus
        "cost_allocation": {
            "accounts": {ACCOUNTS[k][0]: t for k, t in COST_ALLOCATION_ACCOUNTS.items()},
            "services": dict(COST_ALLOCATION_SERVICES),
        },
    }


# -------------------------------------------------------------------------------------------------
# Calendar
# -------------------------------------------------------------------------------------------------

def anchor_end(today: date) -> date:
    """The last day of the demo: the Sunday before ``today`` (the last complete ISO week)."""
    return today - timedelta(days=today.weekday() + 1)


def _black_friday(year: int) -> date:
    nov1 = date(year, 11, 1)
    first_friday = nov1 + timedelta(days=(4 - nov1.weekday()) % 7)
    return first_friday + timedelta(weeks=3)


@dataclass
class Calendar:
    """Day-level facts every generator shares. Times are float hours since ``start`` 00:00 UTC."""

    start: date
    days: int
    dates: pd.DatetimeIndex = field(init=False)
    weekend: np.ndarray = field(init=False)
    holiday: np.ndarray = field(init=False)      # Dec 24 - Jan 1: almost nobody ships
    freeze: np.ndarray = field(init=False)       # Black Friday week: change freeze
    season: np.ndarray = field(init=False)       # retail traffic multiplier
    month_end: np.ndarray = field(init=False)
    month_start: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.dates = pd.date_range(self.start, periods=self.days, freq="D")
        self.weekend = np.asarray(self.dates.day_of_week >= 5)
        month, day = np.asarray(self.dates.month), np.asarray(self.dates.day)
        self.holiday = ((month == 12) & (day >= 24)) | ((month == 1) & (day == 1))
        self.month_end = np.asarray((self.dates + pd.Timedelta(days=2)).month != month)
        self.month_start = day == 1
        day_numbers = np.asarray((self.dates - pd.Timestamp("1970-01-01")).days)
        freeze = np.zeros(self.days, dtype=bool)
        season = np.ones(self.days)
        for year in sorted(set(self.dates.year)):
            bf = (pd.Timestamp(_black_friday(year)) - pd.Timestamp("1970-01-01")).days
            offset = day_numbers - bf
            freeze |= (offset >= -4) & (offset <= 3)
            season += 0.7 * np.exp(-0.5 * (offset / 3.0) ** 2)
            season += 0.18 * ((offset >= -10) & (offset <= 35))
        self.freeze = freeze
        self.season = season

    @property
    def end_hours(self) -> float:
        return self.days * 24.0

    def day_of(self, hours: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(hours) // 24).astype(int), 0, self.days - 1)


def _progress(t: np.ndarray) -> np.ndarray:
    """0 -> 1 over the year along an S-curve centred at 45 %: when the improving team changed."""
    s = lambda x: 1.0 / (1.0 + np.exp(-(x - 0.45) / 0.08))  # noqa: E731
    return (s(np.asarray(t, dtype=float)) - s(0.0)) / (s(1.0) - s(0.0))


def _at(value: Value, t) -> np.ndarray:
    if isinstance(value, tuple):
        a, b = value
        return a + (b - a) * _progress(t)
    return np.full(np.shape(t), float(value))


def _lognormal(rng: np.random.Generator, median, sigma: float, size: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


def _daily_times(rng, lam: np.ndarray, center: float, spread: float) -> np.ndarray:
    """Poisson(lam[d]) event times on each day d, clustered around the working day's middle."""
    counts = rng.poisson(np.maximum(lam, 0))
    day = np.repeat(np.arange(lam.size), counts)
    hour = np.clip(rng.normal(center, spread, day.size), 0.2, 23.8)
    return np.sort(day * 24.0 + hour)


def _shas(rng, n: int) -> list[str]:
    raw = rng.bytes(20 * n).hex()
    return [raw[i * 40:(i + 1) * 40] for i in range(n)]


# -------------------------------------------------------------------------------------------------
# Delivery: pull requests, deployments, incidents
# -------------------------------------------------------------------------------------------------

BOTS = ("dependabot[bot]", "renovate[bot]")
FEATURE = ("Add {n}", "Support {n} in the API", "Introduce {n}", "Allow {n} for guest users",
           "Expose {n} metrics", "New endpoint for {n}")
BUG = ("Fix {p} in {n}", "Handle {p} in {n}", "Fix flaky {n} test", "Guard against {p} in {n}")
CHORE = ("Refactor {n}", "Extract {n} into its own module", "Clean up {n}",
         "Remove dead code around {n}", "Move {n} behind a feature flag", "Improve logging in {n}",
         "Add integration tests for {n}")
PROBLEMS = ("timeout", "race condition", "off-by-one", "null reference", "rounding error",
            "duplicate events", "stale cache", "timezone bug", "memory leak", "retry storm",
            "encoding issue", "missing index")
INCIDENT_TITLES = ("Elevated 5xx errors on {s}", "{s}: p99 latency above SLO",
                   "{s} error-budget burn rate alert", "{s} pods crash-looping",
                   "{s}: queue backlog growing", "Customers report failures in {s}",
                   "{s} database CPU saturated", "Partial outage of {s}")
BACKGROUND_TITLES = ("{s}: certificate expiring", "{s}: upstream provider degraded",
                     "{s}: disk filling up", "{s}: noisy neighbour on shared cluster",
                     "{s}: dependency outage (third party)", "{s}: traffic spike from bot")


@dataclass
class _Delivery:
    prs: list[pd.DataFrame] = field(default_factory=list)
    deploys: list[pd.DataFrame] = field(default_factory=list)
    links: list[tuple[int, str, int]] = field(default_factory=list)  # (deploy key, repo, pr idx)
    incidents: list[pd.DataFrame] = field(default_factory=list)
    next_key: int = 0

    def keys(self, n: int) -> np.ndarray:
        out = np.arange(self.next_key, self.next_key + n)
        self.next_key += n
        return out


def _titles(rng, team: TeamSpec, kinds: np.ndarray) -> tuple[list[str], list[list[str]]]:
    n = kinds.size
    nouns = rng.choice(team.nouns, n)
    probs = rng.choice(PROBLEMS, n)
    libs = rng.choice(team.libraries, n)
    feat, bug, chore = rng.integers(0, 100, n), rng.integers(0, 100, n), rng.integers(0, 100, n)
    major, minor, patch = rng.integers(1, 6, n), rng.integers(0, 30, n), rng.integers(0, 9, n)
    titles, labels = [], []
    for i, kind in enumerate(kinds):
        if kind == "dependencies":
            titles.append(f"Bump {libs[i]} from {major[i]}.{minor[i]}.{patch[i]} to {major[i]}.{minor[i] + 1}.0")
            labels.append(["dependencies"])
        elif kind == "feature":
            titles.append(FEATURE[feat[i] % len(FEATURE)].format(n=nouns[i]))
            labels.append(["feature"])
        elif kind in ("bug", "hotfix"):
            titles.append(BUG[bug[i] % len(BUG)].format(n=nouns[i], p=probs[i]))
            labels.append(["bug", "hotfix"] if kind == "hotfix" else ["bug"])
        else:
            title = CHORE[chore[i] % len(CHORE)].format(n=nouns[i])
            titles.append(title[0].upper() + title[1:])
            labels.append([] if kind == "none" else [kind])
    if team.conventional:
        titles, labels = _conventional(kinds, titles, labels)
    return titles, labels


# Conventional-commit type per kind of pull request (teams that title PRs this way rarely label them;
# a hotfix keeps its "hotfix" label, which the deploy tooling reads).
CONVENTIONAL = {"feature": "feat", "bug": "fix", "hotfix": "fix", "chore": "chore", "refactor": "refactor",
                "dependencies": "build(deps)"}


def _conventional(kinds: np.ndarray, titles: list[str], labels: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    out_t, out_l = [], []
    for kind, title, label in zip(kinds, titles, labels, strict=True):
        kind = str(kind)
        prefix = CONVENTIONAL.get(kind)
        out_t.append(f"{prefix}: {title[0].lower()}{title[1:]}" if prefix else title)
        out_l.append(["hotfix"] if kind == "hotfix" else ([] if prefix and kind != "dependencies" else label))
    return out_t, out_l


def _unplanned_drift(team: TeamSpec, kinds: np.ndarray, t: np.ndarray, shas: list[str]) -> np.ndarray:
    """Planned pull requests (feature, chore, refactor) that become bug fixes, with a probability
    rising linearly from 0 to ``team.unplanned_rise`` over the year. The coin is read from the merge
    sha (already random), so no draw is added and every other row of the demo stays the same."""
    if not team.unplanned_rise:
        return kinds
    coin = np.array([int(sha[:8], 16) / 0x100000000 for sha in shas])
    planned = np.isin(kinds, ["feature", "chore", "refactor"])
    return np.where(planned & (coin < team.unplanned_rise * t), "bug", kinds)


def _pull_requests(rng, cal: Calendar, team: TeamSpec, merged_h: np.ndarray, shas: list[str]) -> pd.DataFrame:
    """Merged pull requests (times worked backwards from the merge) plus closed and open ones."""
    p = team.profile
    n = merged_h.size
    t = merged_h / cal.end_hours
    kinds = rng.choice(["feature", "bug", "chore", "refactor", "none", "dependencies", "hotfix"],
                       n, p=[0.40, 0.26, 0.11, 0.09, 0.03, 0.10, 0.01])
    kinds = _unplanned_drift(team, kinds, t, shas)
    bot = kinds == "dependencies"
    review = _lognormal(rng, _at(p.review_hours, t), 1.0, n)
    pickup = _lognormal(rng, _at(p.pickup_hours, t), 1.1, n)
    coding = _lognormal(rng, _at(p.coding_hours, t), 1.1, n)
    no_review = (rng.random(n) < 0.05) | (bot & (rng.random(n) < 0.5))
    coding[bot] = rng.uniform(0.001, 0.02, bot.sum())
    first_review = np.where(no_review, np.nan, merged_h - review)
    opened = merged_h - review - pickup
    first_commit = opened - coding
    # Rebased branches: the first commit's timestamp lands after the pull request was opened.
    rebased = (rng.random(n) < 0.01) & ~bot
    first_commit[rebased] = opened[rebased] + rng.uniform(0.1, 3.0, rebased.sum())
    titles, labels = _titles(rng, team, kinds)
    authors = np.where(bot, rng.choice(BOTS, n), rng.choice(team.authors, n))
    merged = pd.DataFrame({"first_commit_h": first_commit, "opened_h": opened,
                           "first_review_h": first_review, "merged_h": merged_h,
                           "merge_sha": shas, "title": titles, "author": authors, "labels": labels})

    # Never merged: abandoned, superseded, or still open at the end.
    m = int(n * 0.09) + 3
    opened_u = np.sort(rng.uniform(0, cal.end_hours - 1, m))
    opened_u[-3:] = cal.end_hours - rng.uniform(2, 120, 3)
    kinds_u = rng.choice(["feature", "bug", "chore", "dependencies"], m, p=[0.45, 0.2, 0.15, 0.2])
    titles_u, labels_u = _titles(rng, team, kinds_u)
    review_u = opened_u + _lognormal(rng, _at(p.pickup_hours, opened_u / cal.end_hours), 1.1, m)
    unmerged = pd.DataFrame({
        "first_commit_h": opened_u - _lognormal(rng, _at(p.coding_hours, opened_u / cal.end_hours), 1.1, m),
        "opened_h": opened_u,
        "first_review_h": np.where((rng.random(m) < 0.6) & (review_u < cal.end_hours), review_u, np.nan),
        "merged_h": np.nan, "merge_sha": None, "title": titles_u,
        "author": np.where(kinds_u == "dependencies", rng.choice(BOTS, m), rng.choice(team.authors, m)),
        "labels": labels_u})
    return pd.concat([merged, unmerged], ignore_index=True)


def _deploy_starts(rng, cal: Calendar, p: Profile, merges: np.ndarray):
    """Production deploy start times and the merges each ships: (starts, lo, hi) index ranges."""
    day_t = (np.arange(cal.days) + 0.5) / cal.days
    wk = np.where(cal.weekend, p.weekend, 1.0)
    if p.deploy_mode == "cd":
        delay = _lognormal(rng, _at(p.pipeline_hours, merges / cal.end_hours), 0.6, merges.size)
        starts, his = [], []
        pending = -np.inf
        for i, m in enumerate(merges):
            if m <= pending:          # joins the deploy already queued: it ships the newer head
                his[-1] = i + 1
                continue
            pending = m + delay[i]
            starts.append(pending)
            his.append(i + 1)
        starts, hi = np.asarray(starts, dtype=float), np.asarray(his, dtype=int)
        lo = np.r_[0, hi[:-1]].astype(int)
        return starts, lo, hi
    calendar_factor = np.where(cal.holiday | cal.freeze, 0.2, 1.0)
    lam = _at(p.deploy_rate, day_t) * wk * calendar_factor
    cand = _daily_times(rng, lam, p.center_hour + 1.5, 2.0)
    if p.deploy_mode == "train":
        train_days = np.flatnonzero(np.asarray(cal.dates.day_of_week == p.train_weekday))
        rides = rng.random(train_days.size) < p.train_share * calendar_factor[train_days]
        train = train_days[rides] * 24.0 + np.clip(rng.normal(p.center_hour + 3, 1.0, rides.sum()), 0, 23.9)
        cand = np.sort(np.r_[cand, train])
    hi = np.searchsorted(merges, cand, side="right")
    lo = np.r_[0, hi[:-1]]
    # A scheduled run with nothing new merged mostly does not happen; sometimes it ships config.
    keep = (hi > lo) | (rng.random(cand.size) < 0.25)
    return cand[keep], lo[keep].astype(int), hi[keep].astype(int)


def _repo_delivery(rng, cal: Calendar, team: TeamSpec, repo_name: str, services: tuple[str, ...],
                   out: _Delivery) -> None:
    p = team.profile
    repo = f"{ORG}/{repo_name}"
    end = cal.end_hours
    day_t = (np.arange(cal.days) + 0.5) / cal.days
    lam_pr = _at(p.pr_rate, day_t) * np.where(cal.weekend, p.weekend, 1.0) * np.where(cal.holiday, 0.2, 1.0)
    merges = _daily_times(rng, lam_pr, p.center_hour, 2.5)
    merge_shas = _shas(rng, merges.size)
    prs = _pull_requests(rng, cal, team, merges, merge_shas)
    prs["repo"] = repo
    n_merged = merges.size

    deploy_frames: list[pd.DataFrame] = []
    incident_frames: list[pd.DataFrame] = []
    if services:
        starts, lo, hi = _deploy_starts(rng, cal, p, merges)
        k = starts.size
        t = starts / end
        direct = _shas(rng, k)
        sha = np.array([merge_shas[h - 1] if h > l else d for l, h, d in zip(lo, hi, direct)], dtype=object)
        last_merge = np.where(hi > lo, merges[np.maximum(hi - 1, 0)], starts - 0.5)
        dur = _lognormal(rng, _at(p.duration_minutes, t) / 60.0, 0.4, k)
        # Failed attempt, then a retry of the same sha (never past the next deploy's start).
        next_start = np.r_[starts[1:], np.inf]
        fail_dur = dur * rng.uniform(0.3, 1.0, k)
        gap = _lognormal(rng, p.retry_hours, 0.7, k)
        room = next_start - starts - fail_dur
        failed = (rng.random(k) < _at(p.fail_rate, t)) & (room > 0.1)
        gap = np.minimum(gap, room * 0.8)
        ok_start = np.where(failed, starts + fail_dur + gap, starts)
        ok_finish = ok_start + dur
        keys = out.keys(k)
        prod = pd.DataFrame({"key": keys, "service": services[0], "environment": "production",
                             "sha": sha, "status": "success", "started_h": ok_start,
                             "finished_h": ok_finish, "rollback": False, "hotfix": False})
        frames = [prod]
        fails = pd.DataFrame({"key": out.keys(int(failed.sum())), "service": services[0],
                              "environment": "production", "sha": sha[failed], "status": "failure",
                              "started_h": starts[failed], "finished_h": starts[failed] + fail_dur[failed],
                              "rollback": False, "hotfix": False})
        frames.append(fails)
        # Staging first: after the last merge it ships, before production.
        st = rng.random(k) < p.staging_share
        st_gap = _lognormal(rng, _at(p.staging_hours, t), 0.6, k)
        st_start = np.maximum(last_merge + 0.05, starts - st_gap)
        st_start = np.where(st_start >= starts - 0.05, (last_merge + starts) / 2, st_start)
        st_dur = dur * rng.uniform(0.6, 1.0, k)
        frames.append(pd.DataFrame({"key": out.keys(int(st.sum())), "service": services[0],
                                    "environment": "staging", "sha": sha[st], "status": "success",
                                    "started_h": st_start[st], "finished_h": st_start[st] + st_dur[st],
                                    "rollback": False, "hotfix": False}))
        # Rollbacks: shortly after a bad deploy, redeploy the previous sha.
        rb_start = ok_finish + rng.uniform(0.15, 0.6, k)
        rolled = (rng.random(k) < p.rollback_rate) & (np.arange(k) >= 1) & (next_start > rb_start + 1.0)
        rolled &= rb_start < end - 0.5
        idx = np.flatnonzero(rolled)
        frames.append(pd.DataFrame({"key": out.keys(idx.size), "service": services[0],
                                    "environment": "production", "sha": sha[idx - 1],
                                    "status": "success", "started_h": rb_start[idx],
                                    "finished_h": rb_start[idx] + dur[idx] * 0.8,
                                    "rollback": True, "hotfix": False}))
        # After a rollback the team reverts the offending change.
        for i in idx:
            j = int(np.searchsorted(merges, rb_start[i]))
            if hi[i] > lo[i] and j < n_merged:
                prs.at[j, "title"] = f'Revert "{prs.at[hi[i] - 1, "title"]}"'
                prs.at[j, "labels"] = ["revert"]
        if repo in EXPLICIT_LINK_REPOS:
            for key, l, h in zip(keys, lo, hi):
                out.links += [(int(key), repo, int(x)) for x in range(l, h)]
        # A second service of the same repo deploys the same sha a few minutes later.
        for extra in services[1:]:
            follow = rng.random(k) < 0.5
            delay = rng.uniform(0.08, 0.25, k)
            frames.append(pd.DataFrame({"key": out.keys(int(follow.sum())), "service": extra,
                                        "environment": "production", "sha": sha[follow],
                                        "status": "success",
                                        "started_h": ok_finish[follow] + delay[follow],
                                        "finished_h": ok_finish[follow] + delay[follow] + dur[follow],
                                        "rollback": False, "hotfix": False}))
        deploys = pd.concat(frames, ignore_index=True)

        # Incidents caused by production deploys (and most rollbacks had one).
        cand = deploys[(deploys.environment == "production") & (deploys.status == "success")
                       & ~deploys.rollback].reset_index(drop=True)
        ct = cand.finished_h.to_numpy() / end
        rolled_keys = set(keys[idx].tolist())
        was_rolled = cand.key.isin(rolled_keys).to_numpy()
        rb_of = dict(zip(keys[idx].tolist(), rb_start[idx].tolist()))
        hit = rng.random(len(cand)) < np.where(was_rolled, 0.6, _at(p.incident_rate, ct))
        fin = cand.finished_h.to_numpy()
        created = fin + np.minimum(rng.exponential(1.5, len(cand)), 48)
        sev = rng.choice(["sev1", "sev2", "sev3"], len(cand), p=[0.08, 0.37, 0.55])
        sev_factor = np.select([sev == "sev1", sev == "sev2"], [0.7, 1.0], 1.5)
        resolved = created + _lognormal(rng, _at(p.recovery_hours, ct) * sev_factor, 0.9, len(cand))
        rb_created = np.array([fin[i] + (rb_of.get(key, fin[i]) - fin[i]) * 0.5
                               for i, key in enumerate(cand.key)])
        created = np.where(was_rolled, rb_created, created)
        resolved = np.where(was_rolled, created + rng.uniform(0.4, 1.2, len(cand)), resolved)
        explicit = rng.random(len(cand)) < 0.45
        titles = rng.choice(INCIDENT_TITLES, len(cand))
        sel = hit & (created < end)
        inc = pd.DataFrame({"service": cand.service[sel].to_numpy(), "repo": repo,
                            "title": [ti.format(s=s) for ti, s in zip(titles[sel], cand.service[sel])],
                            "severity": sev[sel], "created_h": created[sel],
                            "resolved_h": resolved[sel],
                            "caused_key": np.where(explicit[sel], cand.key[sel], -1)})
        # Hotfixes: for some incidents the team ships a fix while it is open.
        hf = (rng.random(len(inc)) < 0.45) & (inc.resolved_h - inc.created_h > 0.5).to_numpy()
        hf &= ~cand.key[sel].isin(rolled_keys).to_numpy()
        if hf.any():
            c, r = inc.created_h.to_numpy()[hf], inc.resolved_h.to_numpy()[hf]
            m = c + (r - c) * rng.uniform(0.3, 0.6, hf.sum())
            d_start = m + (0.15 if p.deploy_mode == "cd" else 0.3)
            d_fin = d_start + _lognormal(rng, _at(p.duration_minutes, m / end) / 60.0, 0.4, hf.sum())
            inc.loc[hf, "resolved_h"] = np.maximum(r, d_fin + rng.uniform(0.1, 0.5, hf.sum()))
            hf_sha = _shas(rng, int(hf.sum()))
            services_hf = inc.service.to_numpy()[hf]
            hotfix_prs = pd.DataFrame({
                "first_commit_h": c + (m - c) * 0.1, "opened_h": c + (m - c) * 0.3,
                "first_review_h": c + (m - c) * 0.6, "merged_h": m, "merge_sha": hf_sha,
                "title": [f"Hotfix: {ti.split(': ', 1)[-1].lower()}" for ti in inc.title.to_numpy()[hf]],
                "author": rng.choice(team.authors, hf.sum()),
                "labels": [["hotfix"] for _ in range(int(hf.sum()))], "repo": repo})
            first_new = len(prs)
            prs = pd.concat([prs, hotfix_prs], ignore_index=True)
            hkeys = out.keys(int(hf.sum()))
            keep = d_start < end
            deploys = pd.concat([deploys, pd.DataFrame({
                "key": hkeys[keep], "service": services_hf[keep], "environment": "production",
                "sha": np.asarray(hf_sha, dtype=object)[keep], "status": "success",
                "started_h": d_start[keep], "finished_h": d_fin[keep], "rollback": False,
                "hotfix": True})], ignore_index=True)
            if repo in EXPLICIT_LINK_REPOS:
                out.links += [(int(hk), repo, first_new + i) for i, hk in enumerate(hkeys) if keep[i]]
        incident_frames.append(inc)
        deploys["repo"] = repo
        deploy_frames.append(deploys[deploys.started_h < end])
    out.prs.append(prs)
    out.deploys += deploy_frames
    out.incidents += incident_frames


def _background_incidents(rng, cal: Calendar, team: TeamSpec) -> pd.DataFrame:
    """Incidents no deployment caused: providers, certificates, traffic (some unattributable)."""
    p = team.profile
    n = int(rng.poisson(p.background_incidents))
    service_repo = [(s, f"{ORG}/{r}") for r, svcs in team.repos.items() for s in svcs]
    service_repo += [(s, None) for s in team.extra_services] * 3
    pick = rng.integers(0, len(service_repo), n)
    services = [service_repo[i][0] for i in pick]
    repos = [service_repo[i][1] for i in pick]
    created = np.sort(rng.uniform(0, cal.end_hours - 1, n))
    sev = rng.choice(["sev1", "sev2", "sev3", "sev4"], n, p=[0.03, 0.27, 0.5, 0.2])
    titles = rng.choice(BACKGROUND_TITLES, n)
    df = pd.DataFrame({"service": services, "repo": repos,
                       "title": [ti.format(s=s) for ti, s in zip(titles, services)], "severity": sev,
                       "created_h": created,
                       "resolved_h": created + _lognormal(rng, _at(p.recovery_hours, created / cal.end_hours) * 1.5, 1.0, n),
                       "caused_key": -1})
    # A few come from an issue tracker that only knows the repository.
    repo_only = (rng.random(n) < 0.15) & df.repo.notna().to_numpy()
    df.loc[repo_only, "service"] = None
    return df


def _hours_to_ts(start: pd.Timestamp, hours) -> pd.Series:
    h = pd.Series(hours, dtype="float64")
    return start + pd.to_timedelta((h * 3600).round(), unit="s")


def build_delivery(rng: np.random.Generator, cal: Calendar) -> dict[str, pd.DataFrame]:
    """deployments, changes, deployment_changes and incidents for every team."""
    out = _Delivery()
    background = []
    for team in TEAMS:
        for repo_name, services in team.repos.items():
            _repo_delivery(rng, cal, team, repo_name, services, out)
        background.append(_background_incidents(rng, cal, team))
    t0 = pd.Timestamp(cal.start)
    end = cal.end_hours

    # changes: numbered per repo in the order they were opened
    prs = pd.concat([df.assign(local=np.arange(len(df))) for df in out.prs], ignore_index=True)
    base = {repo: 120 + 37 * i for i, repo in enumerate(sorted(prs.repo.unique()))}
    prs = prs.sort_values(["repo", "opened_h", "local"], kind="stable")
    prs["number"] = prs.groupby("repo").cumcount() + prs.repo.map(base)
    prs = prs[prs.opened_h < end]
    merged_late = prs.merged_h >= end
    prs.loc[merged_late, "merged_h"] = np.nan
    prs.loc[merged_late, "merge_sha"] = None
    prs.loc[prs.first_review_h >= end, "first_review_h"] = np.nan
    change_id = "demo:pr:" + prs.repo + "#" + prs.number.astype(str)
    changes = pd.DataFrame({
        "id": change_id, "repo": prs.repo, "number": prs.number, "title": prs.title,
        "author": prs.author, "labels": prs.labels,
        "first_commit_at": _hours_to_ts(t0, prs.first_commit_h.to_numpy()).to_numpy(),
        "opened_at": _hours_to_ts(t0, prs.opened_h.to_numpy()).to_numpy(),
        "first_review_at": _hours_to_ts(t0, prs.first_review_h.to_numpy()).to_numpy(),
        "merged_at": _hours_to_ts(t0, prs.merged_h.to_numpy()).to_numpy(),
        "merge_sha": prs.merge_sha,
        "url": GIT_URL + "/" + prs.repo + "/pull/" + prs.number.astype(str),
        "source": SOURCE}).reset_index(drop=True)
    pr_id = dict(zip(zip(prs.repo, prs.local), change_id))

    # deployments: numbered in start order
    dep = pd.concat(out.deploys, ignore_index=True)
    dep = dep[dep.started_h < end].sort_values(["started_h", "key"], kind="stable").reset_index(drop=True)
    dep["id"] = "demo:deploy:" + pd.Series(np.arange(1, len(dep) + 1)).astype(str)
    dep_id = dict(zip(dep.key, dep.id))
    finished = np.minimum(dep.finished_h.to_numpy(), end - 1e-3)
    deployments = pd.DataFrame({
        "id": dep.id, "repo": dep.repo, "service": dep.service, "environment": dep.environment,
        "sha": dep.sha, "status": dep.status,
        "started_at": _hours_to_ts(t0, dep.started_h.to_numpy()).to_numpy(),
        "finished_at": _hours_to_ts(t0, finished).to_numpy(),
        "url": CI_URL + "/" + dep.repo + "/deployments/" + dep.id.str.rsplit(":", n=1).str[-1],
        "source": SOURCE})

    merged_ids = set(changes.id[changes.merged_at.notna()])
    links = [(dep_id[k], pr_id[(repo, local)]) for k, repo, local in out.links
             if k in dep_id and (repo, local) in pr_id]
    links = [(d, c) for d, c in links if c in merged_ids]
    deployment_changes = pd.DataFrame(links, columns=["deployment_id", "change_id"]).assign(source=SOURCE)

    inc = pd.concat(out.incidents + background, ignore_index=True)
    inc = inc[inc.created_h < end]
    # Two incidents are still open at the end of the demo: one of them just started.
    inc = pd.concat([inc, pd.DataFrame({
        "service": ["payments", "wms-sync"], "repo": [f"{ORG}/payments-service", f"{ORG}/warehouse-integration"],
        "title": ["payments: intermittent 502s from the card processor",
                  "wms-sync: stock levels out of sync with the warehouse"],
        "severity": ["sev2", "sev3"], "created_h": [end - 19.5, end - 62.25], "resolved_h": [np.nan, np.nan],
        "caused_key": [-1, -1]})], ignore_index=True)
    inc.loc[inc.resolved_h >= end, "resolved_h"] = np.nan
    inc = inc.sort_values(["created_h", "title"], kind="stable").reset_index(drop=True)
    inc_id = "demo:incident:" + pd.Series(np.arange(1, len(inc) + 1)).astype(str)
    incidents = pd.DataFrame({
        "id": inc_id, "service": inc.service, "repo": inc.repo, "title": inc.title,
        "severity": inc.severity,
        "created_at": _hours_to_ts(t0, inc.created_h.to_numpy()).to_numpy(),
        "resolved_at": _hours_to_ts(t0, inc.resolved_h.to_numpy()).to_numpy(),
        "caused_by_deployment_id": inc.caused_key.map(dep_id),
        "url": PAGER_URL + "/Q" + pd.Series(np.arange(1, len(inc) + 1) + 4100).astype(str),
        "source": SOURCE})
    return {"deployments": deployments, "changes": changes,
            "deployment_changes": deployment_changes, "incidents": incidents}


# -------------------------------------------------------------------------------------------------
# Cloud: costs, utilization, commitments
# -------------------------------------------------------------------------------------------------

def _pattern_matrix(cal: Calendar, patterns: np.ndarray) -> np.ndarray:
    """Per line and day, the multiplier of its usage pattern."""
    n = cal.days
    weekend = cal.weekend.astype(float)
    season = cal.season
    rows = {
        "traffic": (1 + 0.06 * weekend) * season,
        "steady": 1 + 0.1 * (season - 1),
        "storage": np.ones(n),
        "batch": np.where(cal.month_end, 2.6, 1.0) * (1 - 0.1 * weekend),
        "office": np.where(cal.weekend, 0.35, 1.0) * np.where(cal.holiday, 0.5, 1.0),
    }
    return np.stack([rows[p] for p in patterns])


def build_cloud(rng: np.random.Generator, cal: Calendar) -> dict[str, pd.DataFrame]:
    """costs, utilization and commitments of the demo's AWS organisation."""
    teams = {t.name: t for t in TEAMS}
    tag_team = {tag: t.name for t in TEAMS for tag in t.cost_tags}
    account_team = {ACCOUNTS[a][0]: t.name for t in TEAMS for a in t.accounts}
    account_team.update({ACCOUNTS[k][0]: t for k, t in COST_ALLOCATION_ACCOUNTS.items()})

    # One "line" = account x service x region x tag; prod lines mirrored smaller into staging.
    lines = []
    for team_name, specs in COST_LINES.items():
        team = teams[team_name]
        home = ACCOUNTS[team.accounts[0]][0] if team.accounts and team.accounts[0] != "shared" else ACCOUNTS["prod"][0]
        for service, base, pattern, region, tag in specs:
            g = team.profile.growth * rng.uniform(0.6, 1.4)
            share = rng.uniform(0.88, 0.985)
            lines.append((home, service, region, _team_tag(team, tag), base, pattern, g, share, "production"))
            if pattern in ("traffic", "steady") and service in SP_SERVICES + (RDS, "Amazon ElastiCache", "Amazon DynamoDB"):
                lines.append((ACCOUNTS["staging"][0], service, region, _team_tag(team, tag),
                              base * rng.uniform(0.08, 0.16), "office", g, rng.uniform(0.6, 0.85), "staging"))
    for acct, service, base, pattern, region, tag in SHARED_LINES:
        lines.append((ACCOUNTS[acct][0], service, region, tag, base, pattern,
                      0.25 * rng.uniform(0.5, 1.5), 1.0 if tag else 0.0,
                      "staging" if acct == "staging" else "production"))
    L = pd.DataFrame(lines, columns=["account", "service", "region", "tag", "base", "pattern",
                                     "growth", "share", "env"])
    n_lines, n_days = len(L), cal.days
    t = np.arange(n_days) / (n_days - 1)
    growth = np.where(L.pattern.to_numpy()[:, None] == "storage",
                      1 + L.growth.to_numpy()[:, None] * t * 1.3,
                      (1 + L.growth.to_numpy()[:, None]) ** t[None, :])
    noise = np.exp(rng.normal(0, 0.05, (n_lines, n_days)))
    cost = L.base.to_numpy()[:, None] * growth * _pattern_matrix(cal, L.pattern.to_numpy()) * noise

    def lines_where(**kw) -> np.ndarray:
        mask = np.ones(n_lines, dtype=bool)
        for col, val in kw.items():
            mask &= (L[col] == val).to_numpy()
        return np.flatnonzero(mask)

    # Step changes: data added Redshift nodes; checkout right-sized its containers.
    day = lambda frac: int(frac * (n_days - 1))  # noqa: E731
    cost[lines_where(service="Amazon Redshift", env="production"), day(0.58):] *= 1.35
    cost[lines_where(service="Amazon Elastic Container Service", tag="checkout", env="production"), day(0.7):] *= 0.75
    # Anomalies: a sudden 3-5x day (or a few) for one service.
    # They start on a Tuesday to Thursday away from month ends and the retail season, so they
    # stand out from the regular patterns rather than hide in them.
    anomalies = [
        (lines_where(service="AWS Lambda", tag="web"), (0.12, 0.28), 4.2, 1),        # retry loop
        (lines_where(service="Amazon Elastic Compute Cloud", account=ACCOUNTS["sandbox"][0]),
         (0.35, 0.5), 10.0, 3),                                                        # forgotten GPUs
        (lines_where(service="AWS Data Transfer", account=ACCOUNTS["prod"][0]), (0.55, 0.7), 4.0, 1),
        (lines_where(service="AmazonCloudWatch", tag="catalog"), (0.75, 0.9), 3.6, 2),  # debug logs
    ]
    dow = np.asarray(cal.dates.day_of_week)
    quiet = (dow >= 1) & (dow <= 3) & (np.asarray(cal.dates.day) <= 25) & (np.asarray(cal.dates.day) > 1)
    quiet &= (cal.season < 1.02) & ~cal.holiday
    for idx, (a, b), factor, length in anomalies:
        window = np.flatnonzero(quiet[day(a):day(b)]) + day(a)
        if window.size == 0:
            window = np.arange(day(a), day(b))
        first = int(rng.choice(window))
        cost[idx, first:first + length] *= factor

    # Savings Plan: a fixed hourly commitment bought before the year; coverage falls as usage grows.
    sp_lines = np.flatnonzero(L.service.isin(SP_SERVICES).to_numpy())
    usage = cost[sp_lines].sum(axis=0)
    sp_util = np.clip(0.9 - 0.05 * cal.weekend + rng.normal(0, 0.02, n_days), 0.8, 0.97)
    commitment = 0.74 * (1 - SP_DISCOUNT) * usage[:14].mean() / 0.9
    sp_cov = np.clip(sp_util * commitment / ((1 - SP_DISCOUNT) * usage), 0, 0.98)
    # RDS reservation, all upfront, bought ~5 months before the end of the demo.
    rds_lines = lines_where(service=RDS, account=ACCOUNTS["prod"][0])
    ri_day = day(0.58)
    rds_usage = cost[rds_lines].sum(axis=0)
    ri_daily = 0.6 * rds_usage[ri_day] * (1 - RI_DISCOUNT)
    ri_util = np.where(np.arange(n_days) >= ri_day, np.clip(0.99 + rng.normal(0, 0.006, n_days), 0.96, 1.0), np.nan)
    ri_cov = np.clip(ri_util * ri_daily / ((1 - RI_DISCOUNT) * rds_usage), 0, 1)

    cover = np.zeros((n_lines, n_days))
    discount = np.zeros(n_lines)
    cover[sp_lines] = sp_cov
    discount[sp_lines] = SP_DISCOUNT
    cover[rds_lines] = np.nan_to_num(ri_cov)
    discount[rds_lines] = RI_DISCOUNT
    billed = cost * (1 - cover)
    effective = billed + cost * cover * (1 - discount[:, None])

    # Long form: a tagged row and an untagged remainder per line and day.
    share = L.share.to_numpy()
    frames = []
    for part, frac in (("tagged", share), ("untagged", 1 - share)):
        keep = frac > 0
        li = np.repeat(np.flatnonzero(keep), n_days)
        di = np.tile(np.arange(n_days), keep.sum())
        f = frac[li]
        frames.append(pd.DataFrame({
            "line": li, "d": di, "tag": L.tag.to_numpy()[li] if part == "tagged" else "",
            "list_cost": cost[li, di] * f, "billed_cost": billed[li, di] * f,
            "effective_cost": effective[li, di] * f}))
    long = pd.concat(frames, ignore_index=True)
    long["account"] = L.account.to_numpy()[long.line]
    long["service"] = L.service.to_numpy()[long.line]
    long["region"] = L.region.to_numpy()[long.line]
    long["env"] = L.env.to_numpy()[long.line]
    long = (long.groupby(["d", "account", "service", "region", "tag", "env"], as_index=False, sort=True)
            [["list_cost", "billed_cost", "effective_cost"]].sum())

    # Fees: the Savings Plan's daily charge, the reservation's upfront payment, monthly support.
    fees = [pd.DataFrame({"d": np.arange(n_days), "account": PAYER,
                          "service": "Savings Plans for AWS Compute usage", "region": "", "tag": "",
                          "env": "", "list_cost": np.nan, "billed_cost": commitment,
                          "effective_cost": commitment * (1 - sp_util)})]
    fees.append(pd.DataFrame({"d": [ri_day], "account": ACCOUNTS["prod"][0], "service": RDS,
                              "region": "us-east-1", "tag": "", "env": "", "list_cost": [np.nan],
                              "billed_cost": [ri_daily * 365], "effective_cost": [0.0],
                              "resource_id": f"arn:aws:rds:us-east-1:{ACCOUNTS['prod'][0]}:ri:aurora-pg-r6g-1yr"}))
    total = effective.sum(axis=0)
    firsts = np.flatnonzero(cal.month_start)
    support = [0.06 * 30 * total[max(0, d - 30):d].mean() if d > 0 else 0.06 * 30 * total[0] for d in firsts]
    fees.append(pd.DataFrame({"d": firsts, "account": PAYER, "service": "AWS Support (Business)",
                              "region": "", "tag": "", "env": "", "list_cost": support,
                              "billed_cost": support, "effective_cost": support}))
    long = pd.concat([long] + fees, ignore_index=True)
    long["resource_id"] = long["resource_id"].fillna("")

    category = long.service.map({k: v[0] for k, v in SERVICES.items()})
    unit = long.service.map({k: v[1] for k, v in SERVICES.items()})
    unit_price = long.service.map({k: v[2] for k, v in SERVICES.items()}).astype("float64")
    team = long.tag.map(tag_team)
    team = team.fillna(long.account.map(account_team)).fillna(long.service.map(COST_ALLOCATION_SERVICES))
    team = team.fillna("unallocated")
    tags = np.where(long.tag.eq(""),
                    np.where(long.env.eq(""), None, '{"env": "' + long.env + '"}'),
                    '{"env": "' + long.env + '", "team": "' + long.tag + '"}')
    costs = pd.DataFrame({
        "charge_date": cal.dates[long.d.to_numpy()], "source": SOURCE, "provider": "AWS",
        "billing_account_id": PAYER, "sub_account_id": long.account, "service_name": long.service,
        "region": long.region, "resource_id": long.resource_id, "allocation_tag": long.tag,
        "service_category": category, "tags": tags, "team": team,
        "billed_cost": long.billed_cost.round(4), "effective_cost": long.effective_cost.round(4),
        "list_cost": long.list_cost.round(4),
        "consumed_quantity": (long.list_cost / unit_price).round(3), "consumed_unit": unit,
        "currency": "USD", "estimated": long.d.to_numpy() >= n_days - 2})

    # Utilization per compute resource; catalog's fleet is the over-provisioned one.
    service_team = {s: t.name for t in TEAMS for svcs in t.repos.values() for s in svcs}
    frames = []
    for service, (count, vcpu, gib, cpu, mem, kind) in UTILIZATION.items():
        ids = ([f"i-0{h[:16]}" for h in _shas(rng, count)] if kind == "ec2"
               else [f"ecs:prod/{service}/task-{i + 1}" for i in range(count)])
        for resource in ids:
            level = rng.uniform(0.85, 1.15)
            traffic = (1 + 0.35 * (cal.season - 1)) * np.where(cal.weekend, 0.8, 1.0)
            for metric, base, capacity in (("cpu", cpu, vcpu), ("memory", mem, gib)):
                damp = 1.0 if metric == "cpu" else 0.3
                avg = np.clip(base * level * (1 + damp * (traffic - 1)) * np.exp(rng.normal(0, 0.08, n_days)), 0.01, 0.97)
                spread = (1.5, 2.3) if metric == "cpu" else (1.1, 1.35)
                p95 = np.minimum(avg * rng.uniform(*spread, n_days), 1.0)
                frames.append(pd.DataFrame({"date": cal.dates, "provider": "AWS", "resource": resource,
                                            "service": service, "team": service_team[service],
                                            "metric": metric, "avg": avg.round(4), "p95": p95.round(4),
                                            "capacity": float(capacity)}))
    utilization = pd.concat(frames, ignore_index=True)

    has_ri = ~np.isnan(ri_util)
    commitments = pd.concat([
        pd.DataFrame({"date": cal.dates, "provider": "AWS", "kind": "savings_plan",
                      "utilization": sp_util.round(4), "coverage": sp_cov.round(4)}),
        pd.DataFrame({"date": cal.dates[has_ri], "provider": "AWS", "kind": "reservation",
                      "utilization": ri_util[has_ri].round(4), "coverage": ri_cov[has_ri].round(4)}),
    ], ignore_index=True)
    return {"costs": costs, "utilization": utilization, "commitments": commitments}


# -------------------------------------------------------------------------------------------------
# Writing
# -------------------------------------------------------------------------------------------------

def demo_tables(seed: int = 42, today: date | None = None) -> tuple[dict[str, pd.DataFrame], Calendar]:
    """Every demo table as a DataFrame (no database involved); deterministic in seed and today."""
    end = anchor_end(today or utcnow().date())   # CADENCE_NOW pins it
    cal = Calendar(start=end - timedelta(days=7 * WEEKS - 1), days=7 * WEEKS)
    rng = np.random.default_rng(seed)
    tables = build_delivery(rng, cal)
    tables.update(build_cloud(rng, cal))
    return tables, cal


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}.wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def build_demo(path: str | os.PathLike, seed: int = 42, today: date | None = None, *,
               force: bool = False) -> dict[str, int]:
    """Write the demo warehouse to ``path``, replacing it atomically; returns rows per table.

    ``today`` fixes the end of the twelve months (the Sunday before it); None means the real
    today, which only the CLI and ``make run`` should rely on. An existing file that is not a demo
    database is left alone unless ``force`` is set: real data is never overwritten by accident.
    """
    from warehouse.meta import is_demo_database
    from cadence.demo_slo import sli_rows
    from warehouse.db import write_connection
    from warehouse.state import write_cursor
    from warehouse.upsert import set_meta, upsert_rows

    path = Path(path)
    if path.exists() and not force and not is_demo_database(path):
        raise WarehouseError(
            f'"{path}" exists and is not a Cadence demo database; refusing to replace it with demo '
            f"data. Choose another path with --db, or pass --force to overwrite it.")
    started = time.perf_counter()
    tables, cal = demo_tables(seed, today)
    generated = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.building"
    _remove(tmp)
    counts: dict[str, int] = {}
    try:
        with write_connection(tmp) as con:
            for table in ("deployments", "changes", "deployment_changes", "incidents", "costs",
                          "utilization", "commitments"):
                counts[table] = upsert_rows(con, table, tables[table])
            # The SLIs draw from their own generator (seed, 17), so the tables above are as before.
            counts["sli_hours"] = upsert_rows(con, "sli_hours", sli_rows(tables["incidents"], cal.start, cal.days, seed))
            from cadence.demo_pipelines import pipeline_rows   # CI runs (issue 18): their own generator
            runs, jobs = pipeline_rows(ORG, TEAMS, cal.start, cal.days, seed)
            counts["pipeline_runs"] = upsert_rows(con, "pipeline_runs", runs)
            counts["pipeline_jobs"] = upsert_rows(con, "pipeline_jobs", jobs)
            set_meta(con, "is_demo", "true")
            set_meta(con, "demo_config", json.dumps(demo_config(), sort_keys=True))
            set_meta(con, "demo_seed", str(seed))
            set_meta(con, "demo_end_date", (cal.start + timedelta(days=cal.days - 1)).isoformat())
            last = datetime.combine(cal.start + timedelta(days=cal.days - 1), datetime.max.time()).replace(microsecond=0)
            write_cursor(con, SOURCE, "all", last.isoformat(), rows_written=sum(counts.values()), now=last)
        _remove(Path(f"{path}.wal"))  # a stale log must not be replayed into the new file
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    log.info("demo: %s rows in %.1f s (generate %.1f s) at %s, seed %d, ending %s",
             ", ".join(f"{n} {t}" for t, n in counts.items()), time.perf_counter() - started,
             generated - started, path, seed, cal.start + timedelta(days=cal.days - 1))
    return counts
