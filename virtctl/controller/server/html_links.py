"""Links in an HTML answer of the service proxy, rewritten as apimachinery's proxy Transport
rewrites them (docs/standalone.md#services): in the URL-valued attributes of the tags below, an
absolute path on the guest's (or the client's) host is put under the proxy path, so a page's
``/static/app.css`` still loads through ``…/services/web/proxy/``. Every start tag is written out
again as Go's html tokenizer writes a token (lower-case names, values quoted and escaped); the rest
of the page goes through as it came. Streamed: a chunk in, the rewritten chunk out, with a bounded
amount held back (a construct still open past ``HOLD_LIMIT`` ends the rewriting, the rest passes
as is). gzip and deflate bodies are decoded and encoded again; other encodings are not touched."""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

# which attributes of which tags hold URLs (apimachinery's atomsToAttrs)
URL_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href"}), "applet": frozenset({"codebase"}), "area": frozenset({"href"}),
    "audio": frozenset({"src"}), "base": frozenset({"href"}), "blockquote": frozenset({"cite"}),
    "body": frozenset({"background"}), "button": frozenset({"formaction"}), "command": frozenset({"icon"}),
    "del": frozenset({"cite"}), "embed": frozenset({"src"}), "form": frozenset({"action"}),
    "frame": frozenset({"longdesc", "src"}), "head": frozenset({"profile"}), "html": frozenset({"manifest"}),
    "iframe": frozenset({"longdesc", "src"}), "img": frozenset({"longdesc", "src", "usemap"}),
    "input": frozenset({"src", "usemap", "formaction"}), "ins": frozenset({"cite"}), "link": frozenset({"href"}),
    "object": frozenset({"classid", "codebase", "data", "usemap"}), "q": frozenset({"cite"}),
    "script": frozenset({"src"}), "source": frozenset({"src"}), "video": frozenset({"poster", "src"}),
}
ENCODINGS = ("", "identity", "gzip", "deflate")
HOLD_LIMIT = 1024 * 1024        # characters of an unfinished tag, comment, … held back at most


def is_rewritten(content_type: str, content_encoding: str) -> bool:
    """Whether an answer's body is rewritten: ``text/html`` in an encoding we can decode."""
    return content_type.split(";", 1)[0].strip().lower() == "text/html" and \
        content_encoding.strip().lower() in ENCODINGS


def escape(value: str) -> str:
    """An attribute value as Go's html package escapes it."""
    return (value.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("\r", "&#13;"))


def start_tag(tag: str, attrs: list[tuple[str, str | None]], self_closing: bool,
              rewrite: Callable[[str], str]) -> str:
    """A start tag as Go's ``Token.String`` writes it, its URL attributes rewritten."""
    urls = URL_ATTRS.get(tag, frozenset())
    parts = [tag]
    for key, value in attrs:
        text = value or ""
        if key in urls:
            text = rewrite(text)
        parts.append(f'{key}="{escape(text)}"')
    return "<" + " ".join(parts) + ("/>" if self_closing else ">")


class _Tokens(HTMLParser):
    def __init__(self, rewrite: Callable[[str], str]):
        super().__init__(convert_charrefs=False)
        self.rewrite = rewrite
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(start_tag(tag, attrs, False, self.rewrite))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(start_tag(tag, attrs, True, self.rewrite))

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")


class HtmlRewriter:
    """Text in, rewritten text out, a chunk at a time."""

    def __init__(self, rewrite: Callable[[str], str]):
        self._tokens: _Tokens | None = _Tokens(rewrite)

    def feed(self, text: str) -> str:
        tokens = self._tokens
        if tokens is None:
            return text
        tokens.feed(text)
        if len(tokens.rawdata) > HOLD_LIMIT:          # an unfinished construct this large: give up on it
            held, self._tokens = tokens.rawdata, None
            return self._drain(tokens) + held
        return self._drain(tokens)

    def close(self) -> str:
        tokens = self._tokens
        if tokens is None:
            return ""
        tokens.close()
        return self._drain(tokens)

    @staticmethod
    def _drain(tokens: _Tokens) -> str:
        out = "".join(tokens.out)
        tokens.out.clear()
        return out


class BodyRewriter:
    """An HTML body's bytes in its content encoding in, the rewritten bytes in the same encoding
    out. UTF-8 is assumed (as apimachinery does); bytes that are not UTF-8 go through unchanged."""

    def __init__(self, content_encoding: str, rewrite: Callable[[str], str]):
        encoding = content_encoding.strip().lower()
        self._html = HtmlRewriter(rewrite)
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._unzip: Any = None             # zlib decompress / compress objects
        self._zip: Any = None
        self._deflate = encoding == "deflate"
        self._inflated = False
        if encoding == "gzip":
            self._unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._zip = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._unzip = zlib.decompressobj(zlib.MAX_WBITS)
            self._zip = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        if self._unzip is not None:
            data = self._inflate(data)
        text = self._html.feed(self._decode.decode(data))
        return self._encode(text)

    def close(self) -> bytes:
        text = self._html.feed(self._decode.decode(b"", final=True)) + self._html.close()
        out = self._encode(text)
        if self._zip is not None:
            out += self._zip.flush()
        return out

    def _inflate(self, data: bytes) -> bytes:
        try:
            out: bytes = self._unzip.decompress(data)
        except zlib.error:
            if not self._deflate or self._inflated:
                raise
            # "deflate" without the zlib header (what many servers send): raw DEFLATE, answered alike
            self._deflate = False
            self._unzip = zlib.decompressobj(-zlib.MAX_WBITS)
            self._zip = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            out = self._unzip.decompress(data)
        self._inflated = self._inflated or bool(data)
        return out

    def _encode(self, text: str) -> bytes:
        data = text.encode("utf-8", errors="surrogateescape")
        if self._zip is not None and data:
            return self._zip.compress(data)
        return data
