"""The demo organisation as data: Brightcart's teams and how they work, their repositories and
services, AWS accounts and services, cost lines, utilization and the words titles are made of.
(A data table: exempt from the module size rule.)"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

ORG = "brightcart"
SOURCE = "demo"
WEEKS = 52
GIT_URL = "https://git.brightcart.example"
CI_URL = "https://ci.brightcart.example"
PAGER_URL = "https://brightcart.pagerduty.example/incidents"

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

# Per team, cost_lines.csv: (service, USD per day at the start, pattern, region, cost tag or None
# for the team's first). Patterns: traffic (customer-driven, peaks around Black Friday), steady,
# storage (grows linearly), batch (month-end runs), office (working hours: CI, dev).
# shared_lines.csv: (account, service, USD/day, pattern, region, tag); mostly untagged: shared plumbing.
def _read_lines(name: str) -> list[dict[str, str]]:
    with (Path(__file__).parent / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


COST_LINES: dict[str, list[tuple[str, float, str, str, str | None]]] = {}
for _row in _read_lines("cost_lines.csv"):
    COST_LINES.setdefault(_row["team"], []).append(
        (_row["service"], float(_row["usd_per_day"]), _row["pattern"], _row["region"], _row["cost_tag"] or None))
SHARED_LINES: list[tuple[str, str, float, str, str, str]] = [
    (r["account"], r["service"], float(r["usd_per_day"]), r["pattern"], r["region"], r["tag"])
    for r in _read_lines("shared_lines.csv")]

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

# Conventional-commit type per kind of pull request (teams that title PRs this way rarely label them;
# a hotfix keeps its "hotfix" label, which the deploy tooling reads).
CONVENTIONAL = {"feature": "feat", "bug": "fix", "hotfix": "fix", "chore": "chore", "refactor": "refactor",
                "dependencies": "build(deps)"}
