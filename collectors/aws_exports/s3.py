"""AWS Data Exports (CUR 2.0 or FOCUS 1.0) from S3, incremental by billing period.

API: S3 ``ListObjectsV2`` (boto3 paginator) and ``GetObject``; IAM ``s3:ListBucket`` on the bucket
and ``s3:GetObject`` on the prefix. Credentials and endpoint: boto3's standard chain
(``AWS_ENDPOINT_URL[_S3]`` included). Table written: ``costs`` (source ``aws-cur`` or ``focus``),
through ``collectors.aws_exports.local``.

Layout read (what AWS Data Exports writes)::

    <prefix>/<export>/data/BILLING_PERIOD=2026-10/<export>-00001.snappy.parquet
    <prefix>/<export>/metadata/BILLING_PERIOD=2026-10/<export>-Manifest.json

Incremental: the listing alone (one paginated ListObjectsV2) gives every object's ETag and size.
``sync_state`` (source ``aws-exports``, scope = the location) keeps them per billing period;
a period whose manifest and data objects are unchanged is skipped without downloading anything.
A changed period (AWS restates a month several times until it closes) is read whole: its manifest
names its current data files (``dataFiles``, or ``reportKeys`` of the legacy CUR manifest; without
a manifest, every data object of the period), they are downloaded into a temporary folder and the
period's rows replace that period for its billing accounts, in the same transaction as the new
ETags. A period that fails (a truncated object, a bad line) writes nothing and keeps its old ETags,
so the next run tries it again; periods before it stay written.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cadence.core.config import Config
from cadence.core.errors import CadenceError, IngestError, SourceAuthError, SourceError
from collectors.aws_exports.local import DATA_SUFFIXES, PeriodReport, ingest_files, is_parquet
from cadence.core.settings.aws_exports import export_locations, export_settings
from warehouse import write_connection
from warehouse.state import read_details, record_sync_error, write_cursor

log = logging.getLogger(__name__)

STATE_SOURCE = "aws-exports"
PERIOD = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})")
CHUNK = 1 << 20


def split_location(location: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/?(.*)$", location)
    if not match:
        raise IngestError(f'"{location}" is not an S3 location; write s3://bucket/prefix/.')
    return match.group(1), match.group(2)


def _client(session=None):
    from collectors.aws_costs import default_session, make_client

    return make_client(session or default_session(), "s3")


def _aws_error(exc: Exception, action: str, location: str) -> CadenceError:
    """A boto3 failure while listing or reading, as a named Cadence error saying what to do."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return SourceAuthError("No AWS credentials found; set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY), or run where an IAM role is available.")
    if isinstance(exc, EndpointConnectionError):
        return SourceError(f"Cannot reach the S3 endpoint for {location}; check the network and "
                           f"AWS_ENDPOINT_URL if you set one.")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            bucket = split_location(location)[0]
            return IngestError(f'S3 bucket "{bucket}" does not exist (from {location}); check the export\'s '
                               f"bucket name and region.")
        if code in ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return SourceAuthError(f"AWS denied {action} on {location} ({code}); grant {action} to these "
                                   f"credentials.")
        if code in ("NoSuchKey", "404"):
            return IngestError(f"{location}: an object listed a moment ago is gone ({code}); AWS may be "
                               f"re-delivering the export: run again in a few minutes.")
        return SourceError(f"AWS {action} on {location} failed: {code}")
    return SourceError(f"AWS {action} on {location} failed: {type(exc).__name__}")


def list_objects(s3, location: str) -> dict[str, tuple[str, int]]:
    """Every object under the location: key → (ETag, size), with ListObjectsV2's paginator."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_location(location)
    found: dict[str, tuple[str, int]] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = (obj["ETag"].strip('"'), int(obj["Size"]))
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(exc, "s3:ListBucket", location) from exc
    return found


def download(s3, bucket: str, key: str, target: Path, expected_size: int | None = None) -> Path:
    """One object to ``target``, streamed; a body shorter than announced is an error."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"s3://{bucket}/{key}"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        reply = s3.get_object(Bucket=bucket, Key=key)
        size = 0
        with open(target, "wb") as fh:
            for chunk in iter(lambda: reply["Body"].read(CHUNK), b""):
                fh.write(chunk)
                size += len(chunk)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(exc, "s3:GetObject", where) from exc
    except OSError as exc:
        raise IngestError(f"Cannot save {where} to {target.parent} ({exc.strerror}); free space there or set "
                          f"[sources.cost_exports] temp_directory. Nothing was written.") from exc
    announced = expected_size if expected_size is not None else int(reply.get("ContentLength", size))
    if size != announced:
        raise IngestError(f"{where}: read {size} of {announced} bytes (the download was cut short); run again. "
                          f"Nothing was written.")
    if is_parquet(key) and not _whole_parquet(target):
        raise IngestError(f"{where} is not a whole Parquet file (it does not start and end with PAR1): the object "
                          f"is truncated or still being written. Nothing was written; run again once AWS has "
                          f"finished delivering the export.")
    return target


def _whole_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
        if path.stat().st_size < 12:
            return False
        fh.seek(-4, 2)
        return head == b"PAR1" and fh.read(4) == b"PAR1"


def download_prefix(location: str, into: Path, *, session=None) -> list[Path]:
    """Every data object under ``s3://bucket/prefix``, downloaded (key paths kept); for
    ``cadence ingest costs s3://…``, which reads a prefix whole."""
    s3 = _client(session)
    bucket, _ = split_location(location)
    listing = {k: v for k, v in list_objects(s3, location).items() if k.lower().endswith(DATA_SUFFIXES)}
    if not listing:
        raise IngestError(f"No .parquet or .csv objects under {location}; check the prefix (a CUR 2.0 export "
                          f"keeps its data under <prefix>/<export name>/data/BILLING_PERIOD=YYYY-MM/).")
    files = [download(s3, bucket, key, into / key, size) for key, (_, size) in sorted(listing.items())]
    log.info("cost export %s: downloaded %d objects", location, len(files))
    return files


# -- billing periods --------------------------------------------------------------------------------

@dataclass
class Period:
    """One billing period of one export: its manifest and data objects as listed."""

    name: str                                   # YYYY-MM
    export: str                                 # the key prefix before data/ or metadata/
    manifest: str | None = None
    data: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.export}{self.name}"

    def fingerprint(self, listing: dict[str, tuple[str, int]]) -> dict[str, list]:
        keys = self.data + ([self.manifest] if self.manifest else [])
        return {k: list(listing[k]) for k in sorted(keys)}

    def bounds(self, manifest: dict | None) -> tuple[date, date]:
        """First and last day of the period: the manifest's billingPeriod, else the month."""
        start = end = None
        period = (manifest or {}).get("billingPeriod") or {}
        try:
            start = _parse_day(period.get("start"))
            end = _parse_day(period.get("end"))
        except ValueError:
            start = end = None
        if start and end and end > start:
            return start, date.fromordinal(end.toordinal() - 1)   # the manifest's end is exclusive
        year, month = map(int, self.name.split("-"))
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _parse_day(text: Any) -> date | None:
    if not isinstance(text, str) or not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%S.%fZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def find_periods(listing: dict[str, tuple[str, int]]) -> list[Period]:
    """Billing periods by the ``BILLING_PERIOD=YYYY-MM`` folder of their keys, per export."""
    periods: dict[tuple[str, str], Period] = {}
    for key in sorted(listing):
        match = PERIOD.search(key)
        if not match:
            continue
        export = re.sub(r"(data|metadata)/$", "", key[:match.start()])
        period = periods.setdefault((export, match.group(1)), Period(match.group(1), export))
        if key.lower().endswith("manifest.json"):
            period.manifest = key
        elif key.lower().endswith(DATA_SUFFIXES):
            period.data.append(key)
    return [periods[k] for k in sorted(periods, key=lambda k: (k[1], k[0]))]


def manifest_files(manifest: dict, bucket: str, where: str) -> list[str]:
    """The data keys a manifest names (Data Exports ``dataFiles`` as s3:// URLs or keys, legacy
    CUR ``reportKeys``)."""
    names = manifest.get("dataFiles", manifest.get("reportKeys"))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise IngestError(f"{where}: the manifest lists no dataFiles; it is not an AWS Data Exports manifest.")
    keys = []
    for name in names:
        if name.startswith("s3://"):
            other, key = split_location(name)
            if other != bucket:
                raise IngestError(f"{where}: the manifest names {name}, in another bucket than {bucket}.")
            keys.append(key)
        else:
            keys.append(name)
    return keys


# -- the sync ---------------------------------------------------------------------------------------

@dataclass
class SyncReport(PeriodReport):
    downloaded: int = 0
    verb = "read"

    def tally(self) -> str:
        return f"{self.downloaded} objects downloaded"

    def detail(self, item: dict) -> str:
        return f"{item['files']} files, "


def sync_location(db_path: str | Path, config: Config, location: str, *, session=None,
                  full: bool = False) -> SyncReport:
    """Bring ``costs`` up to date with one export location: only changed periods are read."""
    s3 = _client(session)
    bucket, _ = split_location(location)
    report = SyncReport(location)
    try:
        listing = list_objects(s3, location)
        periods = find_periods(listing)
        if not periods:
            raise IngestError(f"No billing periods under {location}: expected keys with BILLING_PERIOD=YYYY-MM/ "
                              f"(the layout AWS Data Exports writes); check the prefix.")
        report.periods = len(periods)
        with write_connection(db_path) as con:
            known = read_details(con, STATE_SOURCE, location).get("periods", {})
        for period in periods:
            fingerprint = period.fingerprint(listing)
            if not full and known.get(period.label) == fingerprint:
                report.unchanged.append(period.label)
                continue
            report.loaded.append(_load_period(db_path, config, s3, bucket, location, period, listing, fingerprint,
                                              report))
        if not report.loaded:
            with write_connection(db_path) as con:    # a successful run that found nothing new
                write_cursor(con, STATE_SOURCE, location, _latest(known), details={"periods": known})
    except CadenceError as exc:
        with write_connection(db_path) as con:
            record_sync_error(con, STATE_SOURCE, location, str(exc))
        raise
    log.info("aws-exports %s: %d periods, %d read, %d unchanged, %d objects downloaded", location, report.periods,
             len(report.loaded), len(report.unchanged), report.downloaded)
    return report


def _latest(periods: dict) -> str | None:
    return max((label.rsplit("/", 1)[-1] for label in periods), default=None)


def _load_period(db_path, config: Config, s3, bucket: str, location: str, period: Period,
                 listing: dict[str, tuple[str, int]], fingerprint: dict, report: SyncReport) -> dict:
    where = f"{location} billing period {period.name}"
    settings = export_settings(config)
    root = settings.spill_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cadence-export-s3-", dir=root) as tmp:
        manifest = None
        if period.manifest:
            path = download(s3, bucket, period.manifest, Path(tmp) / "manifest.json", listing[period.manifest][1])
            report.downloaded += 1
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise IngestError(f"{where}: s3://{bucket}/{period.manifest} is not JSON ({exc}); AWS may still "
                                  f"be writing it: run again later. Nothing was written.") from exc
            keys = manifest_files(manifest, bucket, where)
        else:
            keys = period.data
        absent = [k for k in keys if k not in listing]
        if absent:
            raise IngestError(f"{where}: the manifest names s3://{bucket}/{absent[0]}, which is not in the bucket "
                              f"({len(absent)} such files): the delivery is incomplete; run again later. "
                              f"Nothing was written.")
        if not keys:
            raise IngestError(f"{where}: no data files; nothing was written.")
        files = []
        for key in keys:
            files.append(download(s3, bucket, key, Path(tmp) / "data" / key, listing[key][1]))
            report.downloaded += 1

        def remember(con, rows: int) -> None:
            # The period's ETags move in the same transaction as its rows.
            details = read_details(con, STATE_SOURCE, location)
            details.setdefault("periods", {})[period.label] = fingerprint
            write_cursor(con, STATE_SOURCE, location, _latest(details["periods"]), rows_written=rows,
                         details=details)

        try:
            result = ingest_files(db_path, config, files, name=where, period=period.bounds(manifest), also=remember)
        except IngestError as exc:
            raise IngestError(f"{where}: {exc}") from exc
    return {"period": period.label, **result}


def sync(db_path: str | Path, config: Config, *, locations: list[str] | None = None, session=None,
         full: bool = False) -> list[SyncReport]:
    """``cadence sync aws-exports``: every configured location (or the given ones)."""
    return [sync_location(db_path, config, loc, session=session, full=full)
            for loc in (locations or export_locations(config))]
