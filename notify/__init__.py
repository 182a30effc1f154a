"""Notifications: domain events -> SMS to affected customers (exactly once), inbound keywords,
and public outage feeds (GeoJSON, CAP 1.2). See docs/notify.md."""

from notify.config import NotifyConfig, load_config
from notify.dispatch import DispatchReport, run_sender
from notify.inbound import InboundResult
from notify.notifier import Notifier
from notify.redis_store import RedisNotifyStore
from notify.store import NotifyStore, SqliteStore

__all__ = [
    "DispatchReport",
    "InboundResult",
    "Notifier",
    "NotifyConfig",
    "NotifyStore",
    "RedisNotifyStore",
    "SqliteStore",
    "load_config",
    "run_sender",
]
