"""Web origins (scheme://host[:port]) as the widget's embed list and the browser compare them."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str:
    """``https://Example.org:443/`` ▶ ``https://example.org``; anything that is not an origin is an error
    that says what to write instead (a path, a wildcard or a bare host would silently never match)."""
    text = value.strip() if isinstance(value, str) else ""
    example = "write it like https://www.example-clinic.com (scheme and host, optional port, no path)"
    parts = urlsplit(text)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or "*" in text:
        raise ValueError(f"embed origin {value!r} is not a site origin; {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"embed origin {value!r} has more than scheme, host and port; {example}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"embed origin {value!r} has a bad port; {example}") from exc
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"
