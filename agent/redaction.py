"""One redaction for everything that shows a model spec or a URL: /health, logs, events, run views, errors.

A MODEL such as `openai-compatible:m@http://user:pw@host/v1?api-key=…` carries credentials in the URL's
userinfo and query. Whatever is shown (to an unauthenticated /health, a log file, an event forwarded to a
control plane) goes through `redact`: userinfo becomes `***@` and the value of every query parameter whose name
looks secret becomes `***`. The spec itself is kept whole where it is needed to reach the model.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_SECRET_NAME = re.compile(
    r"(key|token|secret|passw|pwd|pass$|^pw$|sig|auth|credential|session|cookie|bearer|private|jwt)",
    re.IGNORECASE,
)


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = "&".join(
                f"{quote(k, safe='-_.~')}={MASK if _SECRET_NAME.search(k) else quote(v, safe='-_.~/:')}"
                for k, v in pairs
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment and MASK))
    except ValueError:  # not parseable as a URL: show none of it
        return f"{url.split('://', 1)[0]}://{MASK}"


def redact(text: str) -> str:
    """`text` with the credentials of every URL in it masked (userinfo, secret-looking query values)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: _redact_url(m.group(0)), text)
