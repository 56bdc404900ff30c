"""Kafka connection settings turned into client arguments: TLS, SASL/SCRAM and SASL/OAUTHBEARER.

One function gives the keyword arguments every aiokafka client takes (producer, consumer,
admin); another gives Faust's credentials for the same settings. Secrets stay ``SecretStr``
until this boundary.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiokafka.abc import AbstractTokenProvider
from aiokafka.helpers import create_ssl_context

from hub.errors import ConfigurationError
from hub.settings import KafkaSecurity, KafkaSettings


class FileTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """SASL/OAUTHBEARER token read from a file at each authentication (the platform, e.g. a
    projected Kubernetes service-account token or a sidecar, keeps the file fresh)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def token(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the OAUTHBEARER token: {exc.strerror}",
                                     file=str(self.path)) from None


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """TLS context for SSL and SASL_SSL; None for the plaintext protocols."""
    if settings.security_protocol not in (KafkaSecurity.SSL, KafkaSecurity.SASL_SSL):
        return None
    password = settings.ssl_key_password.get_secret_value() if settings.ssl_key_password else None
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
        certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        password=password,
    )
    context.check_hostname = settings.ssl_check_hostname
    return context


def client_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Connection and security arguments shared by aiokafka's producer, consumer and admin."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap_servers),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol.value,
    }
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    sasl = settings.security_protocol in (KafkaSecurity.SASL_PLAINTEXT, KafkaSecurity.SASL_SSL)
    if not sasl:
        return kwargs
    mechanism = settings.sasl_mechanism
    if mechanism is None:
        raise ConfigurationError("a SASL protocol needs kafka.sasl_mechanism", field="kafka.sasl_mechanism")
    kwargs["sasl_mechanism"] = mechanism
    if mechanism == "OAUTHBEARER":
        if settings.sasl_oauth_token_file is None:
            raise ConfigurationError("OAUTHBEARER needs a token file", field="kafka.sasl_oauth_token_file")
        kwargs["sasl_oauth_token_provider"] = FileTokenProvider(settings.sasl_oauth_token_file)
    else:
        if not settings.sasl_username or settings.sasl_password is None:
            raise ConfigurationError("SASL/SCRAM needs a user name and a password",
                                     field="kafka.sasl_username")
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return kwargs


def faust_credentials(settings: KafkaSettings) -> Any:
    """Faust's credentials object for the same settings (None for PLAINTEXT)."""
    import faust

    kwargs = client_kwargs(settings)
    protocol = settings.security_protocol
    if protocol == KafkaSecurity.PLAINTEXT:
        return None
    if protocol == KafkaSecurity.SSL:
        return faust.SSLCredentials(kwargs["ssl_context"])
    if kwargs["sasl_mechanism"] == "OAUTHBEARER":
        return faust.OAuthCredentials(oauth_cb=kwargs["sasl_oauth_token_provider"],
                                      ssl_context=kwargs.get("ssl_context"))
    return faust.SASLCredentials(username=kwargs["sasl_plain_username"],
                                 password=kwargs["sasl_plain_password"],
                                 ssl_context=kwargs.get("ssl_context"),
                                 mechanism=kwargs["sasl_mechanism"])
