"""A role's check before it starts on Kafka: the files its settings name exist, and a broker
answers. Without it, a worker with a mistyped CA path or no reachable broker dies deep inside
Faust with a long traceback; with it, ``hub worker`` says in one line what is wrong."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hub.errors import ConfigurationError, TransportError
from hub.settings import KafkaSettings
from hub.streams.kafka.config import client_kwargs

FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "sasl_oauth_token_file")


def check_files(settings: KafkaSettings) -> None:
    """ConfigurationError naming the setting when a file it names is not there."""
    for name in FILES:
        path = getattr(settings, name)
        if path is not None and not Path(path).is_file():
            raise ConfigurationError(f"file not found: {path}", field=f"kafka.{name}")


async def check(settings: KafkaSettings, timeout: float = 15.0) -> None:
    """Raise ConfigurationError or TransportError unless a broker of ``bootstrap_servers``
    answers a metadata request within ``timeout`` seconds."""
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import KafkaError

    check_files(settings)
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the one-line error below says it; no log line per try
    client = AIOKafkaClient(**client_kwargs(settings), request_timeout_ms=int(timeout * 1000))
    where = ", ".join(settings.bootstrap_servers)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
    except (KafkaError, OSError, TimeoutError):
        raise TransportError(f"no Kafka broker answers at {where} (kafka.bootstrap_servers)") from None
    finally:
        await client.close()
        quiet.setLevel(level)


__all__ = ["check", "check_files"]
