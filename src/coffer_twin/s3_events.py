"""S3 -> EventBridge as S3 sends it, which moto 5.2.5's S3 does only in part.

With a bucket's ``EventBridgeConfiguration`` on, moto's S3 (``moto.s3.notifications._send_event_bridge_message``)
does send events to the account's rules, but:

- every event carries the same ``id`` and the same ``sequencer`` (``617f08299329d189``), so neither
  deduplication nor S3's per-key ordering can be tested;
- ``time`` is the wall clock, not the twin's simulated clock;
- ``detail.object.eTag`` where S3 writes ``etag``; ``reason`` is ``ObjectCreated``/``ObjectRemoved`` where S3
  writes ``PutObject``, ``CopyObject``, ``CompleteMultipartUpload``, ``DeleteObject``; no ``deletion-type``;
- a DeleteObject in a versioned bucket (a delete marker) sends **no** event at all, and deleting a version by id
  sends one only when it was the key's last version (naming the current version, not the deleted one);
- each PutObject also sends an ``Object Tags Added`` event (S3 sends it only for PutObjectTagging);
- delivery reaches only the targets moto supports (not Lambda: the twin's :mod:`.event_delivery` adds it);
- GetBucketNotificationConfiguration leaves ``EventBridgeConfiguration`` out of its answer (the twin puts it in:
  S3 backups ask whether a bucket's tag events reach EventBridge).

While installed, the twin sends S3's events itself, in the shape of S3's documentation
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html): a UUID ``id`` per event, ``time``
from ``clock`` (whole seconds, as EventBridge; held as a timestamp, as moto does, and written as ISO 8601 by the
delivery), a ``sequencer`` that grows with every event, ``etag``,
``version-id``, S3's ``reason`` and, for deletions, ``deletion-type`` (``Delete Marker Created`` or
``Permanently Deleted``). Every DeleteObject sends one. Tag events pass with the same corrections; the spurious
one that moto sends on every PutObject is dropped.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock

__all__ = ["S3EventBridge"]

_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}


class S3EventBridge:
    """Sends S3's EventBridge events for buckets whose EventBridge notifications are on."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self._request = threading.local()
        self.sent = 0
        #: deliveries that raised (moto's own S3 code swallows them silently; the twin keeps them for tests)
        self.delivery_errors: list[str] = []

    @contextmanager
    def installed(self) -> Iterator[None]:
        from moto.s3 import notifications
        from moto.s3.models import S3Backend
        from moto.s3.responses import S3Response

        seam = self
        original_delete = S3Backend.delete_object
        original_key, original_bucket = S3Response.key_response, S3Response.bucket_response

        def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
            if "ObjectRemoved" in event_name:
                return  # sent by delete_object below, once per deletion, with its deletion-type
            seam._queue(account_id, bucket, notifications._detail_type(event_name), {
                "key": key.name, "size": key.size, "etag": key.etag.replace('"', ""),
                "version-id": str(key.version_id) if key.version_id else None,
            }, {"reason": _REASONS.get(event_name, event_name.split(":")[1])})

        def delete_object(backend: Any, bucket_name: str, key_name: str, version_id: str | None = None,
                          bypass: bool = False) -> tuple[bool, dict[str, Any]]:
            bucket = backend.get_bucket(bucket_name)
            deleted, meta = original_delete(backend, bucket_name, key_name, version_id=version_id, bypass=bypass)
            configuration = getattr(bucket, "notification_configuration", None)
            if deleted and configuration is not None and configuration.event_bridge is not None:
                marker = version_id is None and bucket.is_versioned
                seam._queue(backend.account_id, bucket, "Object Deleted", {
                    "key": key_name, "version-id": version_id or meta.get("version-id")}, {
                    "reason": "DeleteObject",
                    "deletion-type": "Delete Marker Created" if marker else "Permanently Deleted"})
            return deleted, meta

        def scoped(original: Callable[..., Any]) -> Callable[..., Any]:
            # S3 sends an event once the request is done; moto sends it mid-request (before PutObject has set
            # the object's metadata and tags): events of one request are held until it returns.
            def handle(response: Any, *args: Any, **kwargs: Any) -> Any:
                if getattr(seam._request, "events", None) is not None:
                    return original(response, *args, **kwargs)
                seam._request.events = []
                try:
                    return original(response, *args, **kwargs)
                finally:
                    held, seam._request.events = seam._request.events, None
                    seam._flush(held)
            return handle

        original_notification = S3Response.get_bucket_notification

        def get_bucket_notification(response: Any) -> Any:
            answer = original_notification(response)
            bucket = response.backend.get_bucket(response.bucket_name)
            configuration = getattr(bucket, "notification_configuration", None)
            if configuration is None or configuration.event_bridge is None or not isinstance(answer, tuple):
                return answer
            status, headers, raw = answer
            body = raw.decode() if isinstance(raw, bytes) else str(raw)
            closing = "</NotificationConfiguration>"
            body = (body.replace(closing, f"<EventBridgeConfiguration/>{closing}") if closing in body
                    else body.replace("/>", f"><EventBridgeConfiguration/>{closing}", 1)
                    if body.rstrip().endswith("/>") else body)
            return status, headers, body

        with mock.patch.object(notifications, "_send_event_bridge_message", send_event_bridge_message), \
                mock.patch.object(S3Response, "get_bucket_notification", get_bucket_notification), \
                mock.patch.object(S3Backend, "delete_object", delete_object), \
                mock.patch.object(S3Response, "key_response", scoped(original_key)), \
                mock.patch.object(S3Response, "bucket_response", scoped(original_bucket)):
            yield

    def _queue(self, account_id: str, bucket: Any, detail_type: str, obj: dict[str, Any],
               extra: dict[str, Any]) -> None:
        with self._lock:
            sequencer = format(next(self._sequence), "016X")
        moment = self.clock().astimezone(UTC).replace(microsecond=0)
        event = {
            # moto keeps an event's time as a timestamp; its delivery (and the twin's) writes it as EventBridge does
            "version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": "aws.s3",
            "account": account_id, "time": int(moment.timestamp()), "region": bucket.region_name,
            "resources": [bucket.arn],
            "detail": {"version": "0", "bucket": {"name": bucket.name},
                       "object": _event_object(detail_type, obj, sequencer),
                       "request-id": uuid.uuid4().hex[:16].upper(), "requester": account_id,
                       "source-ip-address": "127.0.0.1", **extra},
        }
        held = getattr(self._request, "events", None)
        if held is None:
            self._flush([(account_id, bucket.region_name, event)])
        else:
            held.append((account_id, bucket.region_name, event))

    def _flush(self, held: list[tuple[str, str, dict[str, Any]]]) -> None:
        from moto.events.models import events_backends

        created = {e["detail"]["object"]["key"] for _, _, e in held if e["detail-type"] == "Object Created"}
        for account_id, region, event in held:
            if event["detail-type"] == "Object Tags Added" and event["detail"]["object"]["key"] in created:
                continue  # moto's side effect of PutObject / CopyObject, not a PutObjectTagging
            bus = events_backends[account_id][region].event_buses.get("default")
            for rule in list(bus.rules.values()) if bus is not None else []:
                try:
                    rule.send_to_targets(copy.deepcopy(event), transform_input=False)  # type: ignore[arg-type]
                except Exception as error:  # S3 delivers asynchronously: a target's failure never fails the request
                    self.delivery_errors.append(f"{rule.name}: {type(error).__name__}: {error}")
            self.sent += 1


def _event_object(detail_type: str, obj: dict[str, Any], sequencer: str) -> dict[str, Any]:
    """The event's `object` as S3 writes it: a tag event names the key, its version and ETag only - no size and no
    sequencer, which Object Created and Object Deleted carry."""
    present = {k: v for k, v in obj.items() if v is not None}
    if detail_type.startswith("Object Tags"):
        return {k: v for k, v in present.items() if k != "size"}
    return {**present, "sequencer": sequencer}
