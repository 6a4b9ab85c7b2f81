"""The outbox worker: send, retry with backoff, dead-letter."""

from monitor.delivery.worker import DeliveryWorker

__all__ = ["DeliveryWorker"]
