"""The client side of CDI's upload protocol (virtctl.client.upload): the proxy URL joined as Go
virtctl joins it, and the body cut into blocks from a mapped file or, where a file cannot be mapped
(a pipe), through one reused buffer — the same bytes either way."""

from __future__ import annotations

import os
import threading

from virtctl.client import upload


def collect(src, length: int, stop_after: int | None = None) -> list[bytes]:
    blocks: list[bytes] = []

    def send(block: memoryview) -> bool:
        blocks.append(bytes(block))
        return stop_after is None or len(blocks) < stop_after
    upload._send_blocks(src, length, send)
    return blocks


def test_a_file_is_sent_whole_in_blocks_from_where_it_stands(tmp_path):
    data = os.urandom(2 * upload.BLOCK + 123)
    path = tmp_path / "disk.img"
    path.write_bytes(data)
    with open(path, "rb") as src:
        assert b"".join(collect(src, len(data))) == data
        src.seek(100)                                   # a retry after a seek sends from there
        blocks = collect(src, len(data) - 100)
    assert b"".join(blocks) == data[100:] and max(map(len, blocks)) == upload.BLOCK


def test_a_pipe_is_read_through_a_buffer(tmp_path):
    data = os.urandom(upload.BLOCK + 77)
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as sink:
            sink.write(data)
    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(r, "rb") as src:
        blocks = collect(src, len(data))
    writer.join()
    assert b"".join(blocks) == data


def test_sending_stops_when_the_sender_says_so(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(3 * upload.BLOCK))
    with open(path, "rb") as src:
        assert len(collect(src, 3 * upload.BLOCK, stop_after=1)) == 1


def test_an_empty_file_sends_nothing(tmp_path):
    path = tmp_path / "empty.img"
    path.write_bytes(b"")
    with open(path, "rb") as src:
        assert collect(src, 0) == []


def test_the_proxy_url_is_joined_as_go_virtctl_joins_it():
    assert upload.join("https://127.0.0.1:8443", upload.ASYNC_PATH) == "https://127.0.0.1:8443/v1beta1/upload-async"
    assert upload.join("https://proxy/base/", upload.SYNC_PATH) == "https://proxy/base/v1beta1/upload"
    assert upload.join("https://proxy/v1beta1/upload-async", upload.ASYNC_PATH) == \
        "https://proxy/v1beta1/upload-async"
