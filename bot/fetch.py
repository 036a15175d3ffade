"""HTTP for everything fetched from blogs: one guarded session, conditional GETs, hard limits.

`create_session` builds the aiohttp session the bot owns. Unless private feeds are allowed,
that session refuses to connect to loopback, private, link-local, multicast and reserved
addresses, checked where the connection is made, on every hop (redirects included):

* host names are checked after DNS, by `GuardedResolver` (so DNS rebinding and redirects to
  a name that points inside the network are caught too: it is the answer actually used for
  the connection that is checked);
* IP literals never reach a resolver in aiohttp, so a client middleware (run by aiohttp for
  every request and every redirect hop) checks them.

`Fetcher` wraps the session for feed fetching and turns every failure into a `FetchError`
whose text can be shown to a server admin as it is.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Iterable
from datetime import UTC
from http import HTTPStatus

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from .models import FetchResult

log = logging.getLogger(__name__)

USER_AGENT = "Gazette/0.1 (+https://github.com/gazette-bot; Discord feed bot)"

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7, */*;q=0.5"
)

ALLOW_HINT = "set ALLOW_PRIVATE_FEEDS=true to allow"

_SCHEMES = frozenset({"http", "https"})
_NUMERIC_HOST = re.compile(r"^[0-9.]+$")
# NAT64 (RFC 6052) embeds an IPv4 address in its last 32 bits
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


# --------------------------------------------------------------------------- errors


class FetchError(Exception):
    """A fetch failed; str() is short and readable enough to show an admin in Discord."""


class BlockedAddress(FetchError, aiohttp.ClientConnectionError):
    """The address is not public and private feeds are not allowed.

    Also an aiohttp.ClientConnectionError, so code using the session directly and catching
    aiohttp.ClientError handles it like any other connection failure.
    """


class HTTPStatusError(FetchError):
    """The server answered with a status other than 200 or 304."""

    def __init__(
        self, status: int, retry_after: float | None = None, *, host: str | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.host = host
        try:
            text = f"HTTP {status} {HTTPStatus(status).phrase}"
        except ValueError:
            text = f"HTTP {status}"
        if host:
            text += f" from {host}"
        if retry_after is not None:
            text += f" (asks to wait {retry_after:.0f} s)"
        super().__init__(text)


class FetchTimeout(FetchError):
    """Connecting, waiting for data or the whole request took too long."""


class TooLarge(FetchError):
    """The response body is over the size limit."""


# --------------------------------------------------------------------------- address policy


def is_blocked_address(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for any address that is not plainly public (loopback, private, CGNAT, ...).

    IPv4 addresses carried inside IPv6 (mapped, compatible, 6to4, NAT64) are judged by the
    IPv4 address they carry.
    """
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.strip("[]").split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is None and int(ip) >> 32 == 0 and int(ip) > 1:
            embedded = ipaddress.IPv4Address(int(ip))  # deprecated IPv4-compatible ::a.b.c.d
        if embedded is not None:
            return is_blocked_address(embedded)
        if ip.is_site_local:
            return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global  # 100.64.0.0/10 (CGNAT) and the other special-purpose ranges
    )


def _norm_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


class GuardedResolver(AbstractResolver):
    """Resolves through `base`, then drops every non-public address.

    If nothing public is left the lookup fails with BlockedAddress. Names in `allow_hosts`
    (exact, case-insensitive) are passed through unchecked.
    """

    def __init__(
        self, base: AbstractResolver | None = None, *, allow_hosts: Iterable[str] = ()
    ) -> None:
        self._base = base if base is not None else aiohttp.DefaultResolver()
        self._allow = frozenset(_norm_host(h) for h in allow_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._base.resolve(host, port, family)
        if _norm_host(host) in self._allow:
            return results
        public = [r for r in results if not is_blocked_address(r["host"])]
        if not public:
            raise BlockedAddress(
                f"refused: {_norm_host(host)} resolves to a private address ({ALLOW_HINT})"
            )
        if len(public) < len(results):
            log.warning("%s resolves to public and private addresses; using the public", host)
        return public

    async def close(self) -> None:
        await self._base.close()


def check_url(url: str | URL, *, allow_private: bool, allow_hosts: Iterable[str] = ()) -> URL:
    """Refuse a URL that is not http(s), or whose host is a non-public IP literal.

    Host names are not looked up here: the session's resolver checks what they resolve to.
    """
    try:
        url = URL(url) if isinstance(url, str) else url
        if url.raw_host:
            # a name no DNS takes ("xn--", a label over 63 characters) is refused here, not
            # by a UnicodeError from deep in yarl or the resolver
            url.host  # noqa: B018 (decodes the punycode)
            url.raw_host.encode("idna")
    except ValueError as exc:  # UnicodeError included
        raise FetchError(f"not a valid URL: {str(url)[:200]}") from exc
    if url.scheme not in _SCHEMES:
        raise FetchError(f"not http(s): {str(url)[:200]}")
    if not url.raw_host:
        raise FetchError(f"not a valid URL (no host): {str(url)[:200]}")
    if allow_private:
        return url
    host = _norm_host(url.raw_host)
    if host in {_norm_host(h) for h in allow_hosts}:
        return url
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if _NUMERIC_HOST.match(host):  # 2130706433, 127.1: legacy forms of an address
            raise BlockedAddress(f"refused: {host} is not a plain IP address") from None
        return url
    if is_blocked_address(ip):
        raise BlockedAddress(f"refused: {host} is a private address ({ALLOW_HINT})")
    return url


def _literal_guard(allow_hosts: frozenset[str]):
    async def guard(req: aiohttp.ClientRequest, handler):
        check_url(req.url, allow_private=False, allow_hosts=allow_hosts)
        return await handler(req)

    return guard


def create_session(
    *,
    allow_private: bool,
    max_connections: int = 20,
    max_per_host: int = 4,
    user_agent: str = USER_AGENT,
    resolver: AbstractResolver | None = None,
    allow_hosts: Iterable[str] = (),
) -> aiohttp.ClientSession:
    """The session the bot owns (call inside the running loop; close it on shutdown).

    allow_private: connect to loopback/private/link-local addresses too (ALLOW_PRIVATE_FEEDS).
    max_per_host: connections open at once to any one host (politeness; 0 = no limit).
    resolver: the DNS resolver to wrap (default: aiohttp's).
    allow_hosts: host names or IP literals exempt from the address check; meant for tests
        that serve an allowed first hop from 127.0.0.1.
    """
    allow = frozenset(_norm_host(h) for h in allow_hosts)
    middlewares = ()
    if not allow_private:
        resolver = GuardedResolver(resolver, allow_hosts=allow)
        middlewares = (_literal_guard(allow),)
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        limit_per_host=max_per_host,
        resolver=resolver,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent},
        middlewares=middlewares,
        # defaults for code using the session directly; Fetcher passes its own
        timeout=aiohttp.ClientTimeout(total=60, sock_connect=10, sock_read=30),
        auto_decompress=True,  # gzip/deflate are advertised and decoded by aiohttp
        raise_for_status=False,
        trust_env=False,
    )


# --------------------------------------------------------------------------- fetching


FRESH = 5.0  # seconds: validators dated more recently than this are not trusted


def trustworthy_validators(last_modified: str | None, now: float | None = None) -> bool:
    """False when a Last-Modified is so recent (or unreadable) that the same second may still
    see changes a 304 would hide.

    WordPress dates its validators to the second: a post published in the second of our
    fetch would otherwise wait behind 304s until the blog changes again.
    """
    if not last_modified:
        return True  # an ETag alone: WordPress always sends both, others hash the body
    try:
        stamp = email.utils.parsedate_to_datetime(last_modified).timestamp()
    except (TypeError, ValueError, IndexError):
        return False
    return stamp < (time.time() if now is None else now) - FRESH


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), not to float()
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    if n >= 1024:
        return f"{n / 1024:g} KB"
    return f"{n} bytes"


def _secs(s: float) -> str:
    return f"{s:g} s"


# what each transport failure is called, most specific first (ConnectionTimeoutError is a
# ServerTimeoutError, which is a TimeoutError; every aiohttp error is a ClientError)
_FAILURES: tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], type[FetchError], str], ...
] = (
    (aiohttp.TooManyRedirects, FetchError, "more than {redirects} redirects from {host}"),
    (
        aiohttp.NonHttpUrlRedirectClientError,
        FetchError,
        "{host} redirected to a URL that is not http(s)",
    ),
    (aiohttp.InvalidUrlRedirectClientError, FetchError, "{host} redirected to an invalid URL"),
    (aiohttp.InvalidURL, FetchError, "not a valid URL: {url}"),
    (
        aiohttp.ConnectionTimeoutError,
        FetchTimeout,
        "timed out connecting to {host} after {connect}",
    ),
    (aiohttp.ServerTimeoutError, FetchTimeout, "timed out after {read} waiting for {host}"),
    (TimeoutError, FetchTimeout, "{host} took longer than {total} to answer"),
    (aiohttp.ClientConnectorDNSError, FetchError, "could not find {host} (DNS lookup failed)"),
    (aiohttp.ClientConnectorCertificateError, FetchError, "{host} has an invalid TLS certificate"),
    (aiohttp.ClientSSLError, FetchError, "TLS error talking to {host}"),
    (aiohttp.ClientConnectorError, FetchError, "could not connect to {host}"),
    (
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError),
        FetchError,
        "{host} closed the connection mid-answer",
    ),
    (aiohttp.ClientResponseError, FetchError, "{host} sent a malformed response"),
    (aiohttp.ClientError, FetchError, "request to {host} failed ({name})"),
    (UnicodeError, FetchError, "{host} redirected to an invalid host name"),  # no DNS takes it
)


class Fetcher:
    """GETs with validators, a redirect cap, a size cap and timeouts; errors are FetchError."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        max_bytes: int = 5 * 1024 * 1024,
        connect_timeout: float = 10.0,
        read_timeout: float = 20.0,
        total_timeout: float = 45.0,
        max_redirects: int = 5,
    ) -> None:
        self.session = session
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        # scheme and host only: the session itself checks addresses, on every hop
        target = check_url(url, allow_private=True)
        host = target.host or target.raw_host or "?"
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self.session.get(
                target,
                headers=headers,
                timeout=aiohttp.ClientTimeout(
                    total=self.total_timeout,
                    sock_connect=self.connect_timeout,
                    sock_read=self.read_timeout,
                ),
                allow_redirects=True,
                # aiohttp counts the response that would exceed the cap, hence + 1
                max_redirects=self.max_redirects + 1,
            ) as resp:
                final = resp.url
                host = final.host or host
                if resp.status == 304:
                    return FetchResult(
                        url=str(final),
                        status=304,
                        body=b"",
                        etag=resp.headers.get("ETag") or etag,
                        last_modified=resp.headers.get("Last-Modified") or last_modified,
                        content_type=resp.headers.get("Content-Type"),
                    )
                if resp.status != 200:
                    retry_after = None
                    if resp.status in (429, 503):
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    raise HTTPStatusError(resp.status, retry_after, host=host)
                body = await self._read(resp)
                return FetchResult(
                    url=str(final),
                    status=200,
                    body=body,
                    etag=resp.headers.get("ETag"),
                    last_modified=resp.headers.get("Last-Modified"),
                    content_type=resp.headers.get("Content-Type"),
                    link_header=resp.headers.get("Link"),
                )
        except FetchError:
            raise
        except (aiohttp.ClientError, TimeoutError, UnicodeError) as exc:
            raise self._failure(exc, host, url) from exc

    def _failure(self, exc: BaseException, host: str, url: str) -> FetchError:
        """What went wrong, in words an admin understands (the first matching kind wins)."""
        kind, text = next(
            (kind, text) for caught, kind, text in _FAILURES if isinstance(exc, caught)
        )
        return kind(
            text.format(
                host=host,
                url=str(url)[:200],
                redirects=self.max_redirects,
                name=type(exc).__name__,
                connect=_secs(self.connect_timeout),
                read=_secs(self.read_timeout),
                total=_secs(self.total_timeout),
            )
        )

    async def _read(self, resp: aiohttp.ClientResponse, limit: int | None = None) -> bytes:
        limit = self.max_bytes if limit is None else limit
        too_large = f"response larger than {_size(limit)}"
        # Content-Length first (if the compressed size is over, the decoded one is too) ...
        if resp.content_length is not None and resp.content_length > limit:
            raise TooLarge(too_large)
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            total += len(chunk)
            if total > limit:  # ... then counted, after decompression: gzip bombs stop here
                raise TooLarge(too_large)
            chunks.append(chunk)
        return b"".join(chunks)

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json_body: object = None,
        total_timeout: float,
        max_bytes: int,
    ) -> tuple[int, bytes]:
        """One request with credentials (an API call): (status, body), whatever the status.

        Never follows a redirect (credentials must not travel to another address: a 3xx is
        returned as it is); the body is capped at `max_bytes` and the whole request at
        `total_timeout`; failures are FetchError as for `get`.
        """
        target = check_url(url, allow_private=True)
        host = target.host or target.raw_host or "?"
        try:
            async with self.session.request(
                method,
                target,
                headers=headers,
                json=json_body,
                timeout=aiohttp.ClientTimeout(
                    total=total_timeout,
                    sock_connect=min(self.connect_timeout, total_timeout),
                    sock_read=min(self.read_timeout, total_timeout),
                ),
                allow_redirects=False,
            ) as resp:
                return resp.status, await self._read(resp, max_bytes)
        except FetchError:
            raise
        except (aiohttp.ClientError, TimeoutError, UnicodeError) as exc:
            if isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ClientError):
                raise FetchTimeout(f"{host} took longer than {_secs(total_timeout)}") from exc
            raise self._failure(exc, host, url) from exc


__all__ = [
    "FEED_ACCEPT",
    "USER_AGENT",
    "BlockedAddress",
    "FetchError",
    "FetchResult",
    "FetchTimeout",
    "Fetcher",
    "GuardedResolver",
    "HTTPStatusError",
    "TooLarge",
    "check_url",
    "create_session",
    "is_blocked_address",
    "parse_retry_after",
]
