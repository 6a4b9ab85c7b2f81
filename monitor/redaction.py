"""What a reason may show: nothing about the infrastructure that the config file does not name.

A run's reason often quotes an error from a driver or a file reader, and
those name things the config never wrote down: the host, user and database
of a URL that came from an environment variable, the address a host name
resolved to, a home directory behind ``~``, a password a driver echoed. The
rule, applied where reasons are made (``monitor.sources``) and once more to
every reason the API shows:

- a secret's value (any ``*_env`` variable the config names) is shown as
  ``$NAME``, the variable that holds it; the user, password, host and
  database of a URL held that way as ``<user>``, ``***``, ``<host>`` and
  ``<database>``;
- an IP address is shown only if the config spells it out (or it is
  loopback); any other is ``<address>``;
- an absolute path is shown only under a directory of a configured
  ``path``; any other is ``<path>``, and a home directory the config wrote
  as ``~`` stays ``~``.

Names the config itself contains (a host or table written in a literal URL,
a monitor or column name) are never hidden: the config already shows them.
A user or database name of one or two characters is left alone, since
hiding it would garble ordinary words.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])")
_PATH = re.compile(r"(?<![\w/.:~$<-])/[^\s'\"(),;]+")
_GLOB = re.compile(r"[*?\[]")
_MIN_NAME = 3


def _word(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(text)}(?![\w-])")


def _addresses(text: str) -> Iterator[str]:
    for pattern in (_IPV4, _IPV6):
        for match in pattern.finditer(text):
            yield match.group(0)


def _parsed_address(
    text: str,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def config_strings(value: Any) -> Iterator[tuple[str, str]]:
    """Every (key, string value) in a dumped settings tree (``model_dump(mode="json")``)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, str):
                yield str(key), item
            else:
                yield from config_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from config_strings(item)


@dataclass(frozen=True)
class Redactor:
    """Applies the module's rule; ``build`` it from a config, or ``for_url`` for one URL."""

    hidden: tuple[tuple[re.Pattern[str], str], ...] = ()
    named_addresses: frozenset[str] = frozenset()
    path_roots: tuple[str, ...] = ()
    home: str | None = None

    @classmethod
    def build(
        cls,
        secrets: Iterable[tuple[str, str]] = (),
        named: Iterable[str] = (),
        paths: Iterable[str] = (),
    ) -> Redactor:
        """A redactor for a config.

        ``secrets``: (environment variable, value) of each secret set now;
        ``named``: every string the config holds; ``paths``: its file paths or globs.
        """
        named = list(named)
        replacements: dict[str, str] = {}
        for env_name, value in secrets:
            if not value:
                continue
            replacements[value] = f"${env_name}"
            replacements.update(_url_parts(value, env_name, named))
        hidden = tuple(
            (
                re.compile(re.escape(text)) if placeholder.startswith("$") else _word(text),
                placeholder,
            )
            for text, placeholder in sorted(replacements.items(), key=lambda kv: -len(kv[0]))
        )
        addresses = {
            str(parsed)
            for text in named
            for found in _addresses(text)
            if (parsed := _parsed_address(found)) is not None
        }
        addresses |= {host for text in named if (host := _url_host(text))}
        roots: list[str] = []
        home = None
        for path in paths:
            if path.startswith("~"):
                home = os.path.expanduser("~")
            directory = _GLOB.split(os.path.expanduser(path), maxsplit=1)[0]
            directory = directory if directory.endswith("/") else os.path.dirname(directory) + "/"
            roots.append(directory)
            roots.append(os.path.join(os.path.abspath(directory), ""))
        return cls(hidden, frozenset(addresses), tuple(dict.fromkeys(roots)), home)

    @classmethod
    def for_url(cls, url: str, env_name: str | None) -> Redactor:
        """For errors about one connection.

        A URL read from ``env_name`` is a secret; one written in the config is
        named, but for its password.
        """
        if env_name is not None:
            return cls.build(secrets=[(env_name, url)])
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        hidden = cls.build(named=[url])
        if not password:
            return hidden
        masked = ((re.compile(re.escape(unquote(password))), "***"),)
        return Redactor(masked, hidden.named_addresses, hidden.path_roots, hidden.home)

    def __call__(self, text: str) -> str:
        if self.home and self.home != "/":
            text = text.replace(os.path.join(self.home, ""), "~/")
        for pattern, placeholder in self.hidden:
            text = pattern.sub(placeholder, text)
        text = _IPV4.sub(self._address, text)
        text = _IPV6.sub(self._address, text)
        return _PATH.sub(self._path, text)

    def _address(self, match: re.Match[str]) -> str:
        parsed = _parsed_address(match.group(0))
        if parsed is None or parsed.is_loopback or str(parsed) in self.named_addresses:
            return match.group(0)
        return "<address>"

    def _path(self, match: re.Match[str]) -> str:
        path = match.group(0)
        if any(path.startswith(root) or f"{path}/" == root for root in self.path_roots):
            return path
        return "<path>"


def _url_host(text: str) -> str | None:
    if "://" not in text:
        return None
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host


def _url_parts(value: str, env_name: str, named: list[str]) -> dict[str, str]:
    """The identifying parts of a secret URL, each with its placeholder."""
    if "://" not in value:
        return {}
    try:
        url = urlsplit(value)
        host, user, password = url.hostname, url.username, url.password
    except ValueError:
        return {}
    parts: dict[str, str] = {}
    # SQLAlchemy and the drivers render the URL with the password masked.
    if password:
        parts[unquote(password)] = "***"
        parts[value.replace(f":{password}@", ":***@")] = f"${env_name}"
    database = url.path.lstrip("/").split("/")[0] or None
    for part, placeholder in ((user, "<user>"), (host, "<host>"), (database, "<database>")):
        text = unquote(part) if part else ""
        if len(text) >= _MIN_NAME and not any(_word(text).search(spelled) for spelled in named):
            parts[text] = placeholder
    return parts
