"""`make demo-real`: gated in front of a REAL local model, offline, on loopback only.

Starts llama.cpp's OpenAI-compatible server (from .venv-real/) with SmolLM2-135M-Instruct, starts
gated (from the main .venv) with a throw-away config routing `smollm2` to it, then uses the
`openai` SDK against gated: one plain chat completion, one streamed with
stream_options.include_usage. Prints the answers, the usage, gated's spend rows, and what the
upstream itself sent (so an estimated usage is visible as such). Exits non-zero on any failure.

Run with the main venv's python: `.venv/bin/python scripts/demo_real.py` (the Makefile does).
GATE_REAL_PYTHON points at .venv-real's python (default: .venv-real/bin/python)."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_stack import MODEL_GROUP, StackError, real_stack, tail  # noqa: E402

PROMPT = [{"role": "user", "content": "Name three colours of the rainbow."}]
MAX_TOKENS = 48
CLIENT_TIMEOUT = 120.0


def say(text: str = "") -> None:
    print(text, flush=True)


def upstream_stream_probe(llama_url: str, model: str) -> dict:
    """Ask llama.cpp directly for a stream with include_usage: does it send a usage chunk?"""
    body = {"model": model, "messages": PROMPT, "max_tokens": 8, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    request = urllib.request.Request(f"{llama_url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    payloads = []
    with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as response:
        content_type = response.headers.get("Content-Type")
        for line in response:
            line = line.strip()
            if line.startswith(b"data:"):
                payloads.append(line[5:].strip())
    chunks = [json.loads(p) for p in payloads if p != b"[DONE]"]
    usage_chunks = [c for c in chunks if c.get("usage")]
    return {"content_type": content_type, "events": len(payloads), "done": b"[DONE]" in payloads,
            "usage_chunk": bool(usage_chunks), "models": sorted({str(c.get("model")) for c in chunks})}


def main() -> int:
    from openai import OpenAI

    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        say(f"  [{'ok' if ok else 'FAIL'}] {what}")
        if not ok:
            failures.append(what)

    started = time.monotonic()
    try:
        with real_stack(log=lambda m: say(f"· {m}")) as stack:
            try:
                probe = upstream_stream_probe(stack.llama_url, stack.upstream_model)
                say(f"· llama.cpp directly, streamed with include_usage: {probe['events']} events, "
                    f"usage chunk sent: {probe['usage_chunk']}, [DONE]: {probe['done']}, "
                    f"model in chunks: {probe['models']}")

                client = OpenAI(base_url=f"{stack.gated_url}/v1", api_key=stack.master_key,
                                timeout=CLIENT_TIMEOUT, max_retries=0)
                with client:
                    say("\n== 1. chat completion through gated (not streamed)")
                    began = time.monotonic()
                    raw = client.chat.completions.with_raw_response.create(
                        model=MODEL_GROUP, messages=PROMPT, max_tokens=MAX_TOKENS, temperature=0)
                    completion = raw.parse()
                    answer = completion.choices[0].message.content or ""
                    say(f"answer ({time.monotonic() - began:.2f}s): {answer.strip()!r}")
                    say(f"model: {completion.model!r}  finish_reason: {completion.choices[0].finish_reason}")
                    say(f"usage: {completion.usage.model_dump() if completion.usage else None}")
                    say(f"x-gated-response-cost: {raw.headers.get('x-gated-response-cost')}  "
                        f"x-gated-overhead-ms: {raw.headers.get('x-gated-overhead-ms')}")
                    check(bool(answer.strip()), "non-streamed answer is not empty")
                    check(completion.usage is not None and completion.usage.completion_tokens > 0,
                          "non-streamed answer carries usage")

                    say("\n== 2. chat completion through gated (streamed, stream_options.include_usage)")
                    began = time.monotonic()
                    stream = client.chat.completions.create(
                        model=MODEL_GROUP, messages=PROMPT, max_tokens=MAX_TOKENS, temperature=0,
                        stream=True, stream_options={"include_usage": True})
                    pieces, chunks, usage, usage_was_last = [], 0, None, False
                    with stream:
                        for chunk in stream:
                            chunks += 1
                            usage_was_last = chunk.usage is not None and not chunk.choices
                            if chunk.usage is not None:
                                usage = chunk.usage
                            for choice in chunk.choices:
                                if choice.delta and choice.delta.content:
                                    pieces.append(choice.delta.content)
                    streamed = "".join(pieces)
                    say(f"answer ({time.monotonic() - began:.2f}s, {chunks} chunks, "
                        f"{len(pieces)} with text): {streamed.strip()!r}")
                    say(f"usage chunk: {usage.model_dump() if usage else None}")
                    check(len(pieces) > 1 and bool(streamed.strip()), "streamed answer arrives in several chunks")
                    check(usage is not None and usage_was_last, "a usage chunk ends the stream")

                    say("\n== 3. gated's spend_logs")
                    rows = stack.spend_rows(expected=2)
                    for row in rows:
                        say("  " + json.dumps(row))
                    check(len(rows) == 2, f"2 spend rows (got {len(rows)})")
                    check(all(r["status"] == "success" for r in rows), "every row has status success")
                    check(all((r["spend"] or 0) > 0 for r in rows), "every row has spend > 0")
                    if any(r["usage_estimated"] for r in rows):
                        say("  note: usage_estimated=1 means gated estimated tokens (the upstream sent none)")
            finally:
                say("\n== gated log (tail)")
                say(tail(stack.gated.log_path, 15))
                say("\n== stopping")
    except StackError as exc:
        say(f"FAIL: {exc}")
        return 1
    except Exception as exc:  # an SDK or HTTP error: report it, do not hide the exit status
        say(f"FAIL: {type(exc).__name__}: {exc}")
        return 1
    say(f"\ntotal {time.monotonic() - started:.1f}s")
    if failures:
        say(f"FAILED: {len(failures)} check(s): {'; '.join(failures)}")
        return 1
    say("demo-real: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
