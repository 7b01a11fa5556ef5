"""Publishing to any S3-compatible bucket (AWS S3, R2, B2, MinIO, …) with boto3.

Objects are compared by MD5 with the bucket's ETags (single-part uploads, where
the ETag is the MD5), so a sync uploads only what changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config as BotoConfig  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from tocsin.pages.export import SiteFile
from tocsin.publish.base import PublishError, SyncResult, upload_order
from tocsin.publish.schemas import S3Config

TIMEOUT_SECONDS = 30
_DELETE_BATCH = 1000


def make_client(config: S3Config) -> Any:
    secret = config.secret_access_key.get_secret_value() if config.secret_access_key else None
    return boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=secret,
        config=BotoConfig(
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=TIMEOUT_SECONDS,
            # The worker retries the whole sync with its own backoff.
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def sync_s3(config: S3Config, files: dict[str, SiteFile], client: Any = None) -> SyncResult:
    """Make the bucket's prefix hold exactly `files`, with their content types and
    cache headers: upload the changed objects, then delete the others."""
    s3 = client or make_client(config)
    try:
        existing = dict(_list_etags(s3, config))
        written = []
        for name in upload_order(list(files)):
            key = config.prefix + name
            if existing.get(key) != _md5(files[name].body):
                _put(s3, config, key, files[name])
                written.append(name)
        stale = sorted(set(existing) - {config.prefix + name for name in files})
        _delete(s3, config.bucket, stale)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise PublishError(f"S3: {error.get('Code', '?')}: {error.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise PublishError(f"S3: {exc}") from None
    return SyncResult(written=written, deleted=[k.removeprefix(config.prefix) for k in stale])


def _md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _list_etags(s3: Any, config: S3Config) -> Iterator[tuple[str, str]]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=config.bucket, Prefix=config.prefix)
    for page in pages:
        for item in page.get("Contents", ()):
            yield item["Key"], item["ETag"].strip('"')


def _put(s3: Any, config: S3Config, key: str, file: SiteFile) -> None:
    extra = {"ACL": "public-read"} if config.public_read else {}
    s3.put_object(
        Bucket=config.bucket,
        Key=key,
        Body=file.body,
        ContentType=file.content_type,
        CacheControl=file.cache_control,
        **extra,
    )


def _delete(s3: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), _DELETE_BATCH):
        batch = keys[start : start + _DELETE_BATCH]
        response = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
        )
        if response.get("Errors"):
            first = response["Errors"][0]
            raise PublishError(f"S3: cannot delete {first['Key']}: {first.get('Message', '')}")
