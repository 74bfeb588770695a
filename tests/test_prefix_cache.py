"""The fixed prompt prefix's KV cache: reused across requests, and the text is unchanged.

Runs a tiny randomly initialised Llama (the SmolLM2 architecture) built in memory, with a
character-level tokenizer, so it needs no model files and takes well under a second.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from rag.generation import PrefixCache, TransformersGenerator, fixed_prefix  # noqa: E402

VOCAB = 96


class CharTokenizer:
    """One token per printable character; a ChatML-like template."""

    eos_token_id = 0

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False):
        text = "".join(f"<{m['role']}>{m['content']}</>" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    def encode(self, text, add_special_tokens=False):
        return [1 + (ord(c) - 32) % (VOCAB - 1) for c in text]

    def __call__(self, text, return_tensors="pt", add_special_tokens=True):
        ids = torch.tensor([self.encode(text)])
        return transformers.BatchEncoding({"input_ids": ids, "attention_mask": torch.ones_like(ids)})

    def decode(self, ids, skip_special_tokens=True, **_):
        return "".join(chr(32 + (int(i) - 1) % (VOCAB - 1)) for i in ids if int(i) != 0)


@pytest.fixture
def generator(tmp_path):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)
    model = transformers.LlamaForCausalLM(config).eval()
    gen = TransformersGenerator(str(tmp_path), max_new_tokens=20, timeout_s=30)
    gen._model, gen._tokenizer = model, CharTokenizer()
    return gen


def messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer only from the sources, citing [1]."},
            {"role": "user", "content": f"Sources:\n[1] Ketamine acts within hours.\n\nQuestion: {question}"}]


def count_forward_tokens(model) -> list[int]:
    """Record how many new tokens each forward pass of the model processes."""
    seen: list[int] = []
    original = model.forward

    def forward(*args, **kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        seen.append(ids.shape[1])
        return original(*args, **kwargs)

    model.forward = forward
    return seen


def test_fixed_prefix_is_everything_before_the_last_message_content():
    prefix = fixed_prefix(CharTokenizer(), messages("How fast?"))
    assert prefix == "<system>Answer only from the sources, citing [1].</><user>"
    assert fixed_prefix(CharTokenizer(), messages("Other question?")) == prefix


def test_reused_prefix_gives_the_same_text_and_skips_the_prefix_tokens(generator):
    model = generator._model
    generator.reuse_prefix = False
    plain = ["".join(generator.stream(messages(q))) for q in ("How fast?", "Is it safe?")]
    generator.reuse_prefix = True
    seen = count_forward_tokens(model)
    cached = ["".join(generator.stream(messages(q))) for q in ("How fast?", "Is it safe?")]
    assert cached == plain and all(plain)
    tok = CharTokenizer()
    prefix_len = len(tok.encode(fixed_prefix(tok, messages("x"))))
    prompt_lens = [len(tok.encode(tok.apply_chat_template(messages(q)))) for q in ("How fast?", "Is it safe?")]
    # the prefix is computed once; each request's first pass covers only the tokens after it
    assert seen[0] == prefix_len
    assert [n for n in seen[1:] if n > 1] == [n - prefix_len for n in prompt_lens]


def test_cache_is_not_used_when_the_request_does_not_start_with_the_prefix(generator):
    model, tokenizer = generator._model, generator._tokenizer
    cache = PrefixCache()
    prefix = fixed_prefix(tokenizer, messages("x"))
    other = tokenizer("<system>Something else entirely, longer than the prefix.</>").input_ids
    assert cache.get(model, tokenizer, prefix, other) is None
    exact = tokenizer(prefix).input_ids
    assert cache.get(model, tokenizer, prefix, exact) is None  # nothing left to generate from
    longer = tokenizer(prefix + "Sources").input_ids
    assert cache.get(model, tokenizer, prefix, longer) is not None


def test_cache_keeps_a_bounded_number_of_prefixes(generator):
    model, tokenizer = generator._model, generator._tokenizer
    cache = PrefixCache(max_entries=2)
    for system in ("one", "two", "three"):
        prefix = f"<system>{system}</><user>"
        cache.get(model, tokenizer, prefix, tokenizer(prefix + "q").input_ids)
    assert list(cache._entries) == ["<system>two</><user>", "<system>three</><user>"]
