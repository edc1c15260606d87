"""--concurrency is per server: with several --url each server has that many batches open,
against loopback servers that answer in rounds like a GPU server (tests/_gpu_server.py)."""

from __future__ import annotations

from _gpu_server import GpuServer

from rsteller_db.caption import CaptionOptions, run_captions


def test_each_server_gets_concurrency_batches_in_flight(caption_world, caption_copy,
                                                        test_prompts):
    n = len(caption_world.requests)  # 240: 60 batches of 4
    with (
        GpuServer(capacity=8, round_s=0.02, token_s=0.0) as a,
        GpuServer(capacity=8, round_s=0.02, token_s=0.0) as b,
    ):
        summary = run_captions(
            caption_copy,
            CaptionOptions(
                backend="sglang", urls=(a.url, b.url), tasks=(1, 2), concurrency=3,
                batch_size=4, chat_format="raw", prompts_dir=test_prompts,
            ),
        )
        fa, fb = a.gpu.figures(), b.gpu.figures()
    assert n == 240
    assert summary.requests == n and summary.failed == 0
    assert summary.accepted + summary.rejected == n
    assert fa["max_open"] == fb["max_open"] == 3  # 3 per server, 6 in all
    assert fa["prompts"] + fb["prompts"] == n and min(fa["prompts"], fb["prompts"]) >= n // 4
