"""Links in HTML answers of the service proxy, rewritten as apimachinery's proxy Transport does:
the decisions and the streaming rewriter, without sockets (the path through the API server is in
test_service_proxy.py)."""

from __future__ import annotations

import gzip
import zlib

from virtctl.controller.server import html_links
from virtctl.controller.server.service_proxy import rewrite_location

PREFIX = "/api/v1/namespaces/default/services/web/proxy"


def rewrite(url: str) -> str:
    return rewrite_location(url, PREFIX, "10.0.2.15:80", "127.0.0.1:6443")


PAGE = ('<!DOCTYPE html><HTML><head><link rel=stylesheet href="/s/app.css"><script src=/s/app.js></script>'
        '<script>if (a < b && "<a href=/x>") {}</script></head>'
        '<body><a href="/docs/?q=1&amp;r=2" class=\'x\'>docs</a> <a href="rel/page.html">rel</a>'
        '<a href="http://10.0.2.15:80/abs/">abs</a><a href="https://example.com/">out</a>'
        '<img src="/i.png" alt="a &quot;b&quot;"/><p title="/not-a-link">&copy; &#169; 1 < 2</p>'
        '<!-- <a href="/in-comment"> --><form action="/post" method=post><input disabled></form></body></HTML>')

WANT = ('<!DOCTYPE html><html><head><link rel="stylesheet" href="' + PREFIX + '/s/app.css"><script src="'
        + PREFIX + '/s/app.js"></script><script>if (a < b && "<a href=/x>") {}</script></head>'
        '<body><a href="' + PREFIX + '/docs/?q=1&amp;r=2" class="x">docs</a> <a href="rel/page.html">rel</a>'
        '<a href="' + PREFIX + '/abs/">abs</a><a href="https://example.com/">out</a>'
        '<img src="' + PREFIX + '/i.png" alt="a &#34;b&#34;"/><p title="/not-a-link">&copy; &#169; 1 < 2</p>'
        '<!-- <a href="/in-comment"> --><form action="' + PREFIX + '/post" method="post"><input disabled="">'
        '</form></body></html>')


def test_a_page_is_rewritten_as_kube_rewrites_it():
    r = html_links.HtmlRewriter(rewrite)
    assert r.feed(PAGE) + r.close() == WANT


def test_any_split_of_the_page_gives_the_same_answer():
    for size in (1, 2, 3, 7, 64):
        r = html_links.HtmlRewriter(rewrite)
        out = "".join(r.feed(PAGE[i:i + size]) for i in range(0, len(PAGE), size)) + r.close()
        assert out == WANT, size


def test_what_is_rewritten():
    assert html_links.is_rewritten("text/html; charset=utf-8", "")
    assert html_links.is_rewritten("TEXT/HTML", "gzip") and html_links.is_rewritten("text/html", "deflate")
    assert not html_links.is_rewritten("text/html", "br") and not html_links.is_rewritten("text/plain", "")
    assert html_links.escape("a&b'<>\"\r") == "a&amp;b&#39;&lt;&gt;&#34;&#13;"
    assert html_links.start_tag("a", [("href", "/x"), ("download", None)], False, rewrite) == \
        f'<a href="{PREFIX}/x" download="">'


def test_an_unfinished_construct_past_the_limit_ends_the_rewriting(monkeypatch):
    monkeypatch.setattr(html_links, "HOLD_LIMIT", 100)
    r = html_links.HtmlRewriter(rewrite)
    head = '<a href="/x">x</a><!-- ' + "c" * 200
    out = r.feed(head) + r.feed(' --><a href="/y">') + r.close()
    assert out == f'<a href="{PREFIX}/x">x</a><!-- ' + "c" * 200 + ' --><a href="/y">'


def test_encoded_bodies_are_decoded_and_encoded_again():
    page = PAGE.encode() + "ünïcödé \udcff".encode("utf-8", errors="surrogateescape")
    want = WANT.encode() + "ünïcödé \udcff".encode("utf-8", errors="surrogateescape")
    zlib_deflate = zlib.compress(page)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw_deflate = raw.compress(page) + raw.flush()
    for encoding, body, unpack in (("gzip", gzip.compress(page), gzip.decompress),
                                   ("deflate", zlib_deflate, zlib.decompress),
                                   ("deflate", raw_deflate, lambda b: zlib.decompress(b, -zlib.MAX_WBITS)),
                                   ("", page, bytes)):
        r = html_links.BodyRewriter(encoding, rewrite)
        out = b"".join(r.feed(body[i:i + 5]) for i in range(0, len(body), 5)) + r.close()
        assert unpack(out) == want, encoding
