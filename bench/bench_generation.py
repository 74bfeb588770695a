"""Generation: the transformers backend against llama.cpp on the same packaged GGUF file.

Same prompts (built by the app's prompt builder from retrieved sources of real questions),
same thread count (llama.cpp also on one thread), greedy decoding, in one run. Time to first
token is measured to the first text piece each backend streams; decode speed is the tokens
after the first over the time after the first. llama.cpp runs in process from the prebuilt
`xllamacpp` wheel (requirements-dev.txt).

    python -m bench.bench_generation [--prompts 5]
"""

from __future__ import annotations

import argparse
import json
import time

from bench.common import ROOT, median, table


def real_prompts(n: int) -> list[list[dict[str, str]]]:
    """Chat messages the app would send for the first n factual questions of the set."""
    from rag.config import Settings
    from rag.prompting import build_prompt
    from rag.service import build_pipeline

    settings = Settings(generator="extractive", _env_file=None)
    pipeline = build_pipeline(settings)
    items = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").open()]
    questions = [i["question"] for i in items if i["category"] == "factual"][:n]
    out = []
    for q in questions:
        hits = pipeline.retriever.search(q).hits
        out.append(build_prompt(q, hits, (), settings.prompt_token_budget).messages)
    return out


def time_stream(generator, prompts) -> tuple[list[float], list[float]]:
    """An app backend (transformers or onnxruntime-genai) through the ``stream`` the app uses."""
    ttft, rate = [], []
    for messages in prompts:
        t0 = time.perf_counter()
        pieces = generator.stream(messages)
        first = next(pieces)
        t1 = time.perf_counter()
        text = first + "".join(pieces)
        t2 = time.perf_counter()
        tokens = generator.count_tokens(text)
        ttft.append(t1 - t0)
        rate.append((tokens - 1) / (t2 - t1) if tokens > 1 and t2 > t1 else float("nan"))
    return ttft, rate


def time_llama_cpp(gguf, prompt_texts, threads: int, max_tokens: int) -> tuple[list[float], list[float]]:
    """llama.cpp in process (the ``xllamacpp`` wheel, its server's own completion handler):
    the same GGUF and prompt texts, greedy, no prompt cache reused between prompts."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = 2048
    params.n_parallel = 1
    params.warmup = False
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)
    request = {"temperature": 0.0, "top_k": 1, "cache_prompt": False}
    server.handle_completions({**request, "prompt": prompt_texts[0], "max_tokens": 4})  # warm up
    ttft, rate = [], []
    for text in prompt_texts:
        seen: list[float] = []

        def chunk(piece, seen=seen):
            choices = piece.get("choices") if isinstance(piece, dict) else None
            if choices and choices[0].get("text"):  # OpenAI completion chunks, one token each
                seen.append(time.perf_counter())

        t0 = time.perf_counter()
        server.handle_completions({**request, "prompt": text, "max_tokens": max_tokens, "stream": True}, chunk)
        t2 = time.perf_counter()
        if not seen:
            continue
        ttft.append(seen[0] - t0)
        rate.append((len(seen) - 1) / (t2 - seen[0]) if len(seen) > 1 and t2 > seen[0] else float("nan"))
    del server
    return ttft, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=12)
    args = parser.parse_args()
    import torch

    from rag.config import Settings
    from rag.generation import TransformersGenerator

    settings = Settings(_env_file=None)
    threads = settings.threads or torch.get_num_threads()
    prompts = real_prompts(args.prompts)
    generator = TransformersGenerator("smollm2", settings.cache_dir, settings.max_new_tokens, settings.threads)
    _, tokenizer = generator.load()
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in prompts]
    prompt_tokens = median([len(tokenizer.encode(t, add_special_tokens=False)) for t in texts])
    next(generator.stream(prompts[0]))  # warm up (and compute the prefix cache once)

    results = {}
    generator.reuse_prefix = False
    results["transformers float32, no prefix reuse"] = time_stream(generator, prompts)
    generator.reuse_prefix = True
    results["transformers float32 + prefix KV cache (fallback backend)"] = time_stream(generator, prompts)
    from rag.onnx_backend import OnnxGenerator, available

    if available():
        for n in sorted({1, threads}):
            onnx = OnnxGenerator("smollm2", settings.cache_dir, settings.max_new_tokens, threads=n)
            next(onnx.stream(prompts[0]))  # load (converting once) and warm up
            label = " (app default)" if n == 1 else ""
            name = f"onnxruntime-genai int8, {n} thread{'s' if n > 1 else ''}{label}"
            results[name] = time_stream(onnx, prompts)
    llama_rows = []
    try:
        for n in sorted({threads, 1}, reverse=True):
            # One thread too, because llama.cpp's threads spin-wait for each other: on a busy
            # machine its 1-thread run can be the faster one, and the comparison uses the best.
            name = f"llama.cpp (same GGUF, Q4_1), {n} thread{'s' if n > 1 else ''}"
            results[name] = time_llama_cpp(generator.gguf, texts, n, settings.max_new_tokens)
            llama_rows.append(name)
        llama_note = ""
    except ImportError:
        llama_note = "\nllama.cpp: **not installed** (xllamacpp, requirements-dev.txt), no comparison in this run."

    default = next((k for k in results if k.endswith("(app default)")),
                   "transformers float32 + prefix KV cache (fallback backend)")
    base_ttft, base_rate = (median(v) for v in results[default])
    llama = max((results[n] for n in llama_rows), key=lambda r: median(r[1]), default=None)
    rows = []
    for name, (ttft, rate) in results.items():
        row = [name, f"{median(ttft) * 1e3:.0f} ms", f"{median(rate):.1f}"]
        if llama:
            row.append(f"{median(rate) / median(llama[1]):.2f}")
        rows.append(row)
    print(f"## Generation (SmolLM2-135M-Instruct, {len(prompts)} real prompts, median {prompt_tokens:.0f} prompt "
          f"tokens, up to {settings.max_new_tokens} new tokens, {threads} threads)\n")
    header = ["backend", "time to first token (median)", "decode tokens/s (median)"]
    print(table(header + (["decode vs best llama.cpp"] if llama else []), rows))
    if llama:
        print(f"\nThe app's backend decodes at {base_rate / median(llama[1]):.2f}x the best llama.cpp tokens/s; "
              f"its first token takes {base_ttft / median(llama[0]):.2f}x as long.")
    print(llama_note)


if __name__ == "__main__":
    main()
