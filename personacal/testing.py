"""Helpers for testing code that uses personacal (as ``numpy.testing`` and ``pandas.testing``).

:func:`build_tiny_model` writes a tiny random-weight Llama model with its own tokenizer.
The model knows nothing: its weights are random. It exists so that the whole pipeline
(vLLM engine, OpenAI-compatible server, chat templates, guided decoding, option scoring)
can run end to end on a laptop CPU without downloading anything. Building takes a few
seconds and is deterministic given ``random_state``. From a shell::

    python -m personacal.testing PATH [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import string
from pathlib import Path

import numpy as np

from ._random import RandomState, check_random_state
from ._validation import Interval, check_params
from .errors import BackendError

__all__ = ["build_tiny_model", "CHATML_TEMPLATE", "main"]

#: ChatML, the template most instruction-tuned open models use.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

_WORDS = (
    "age sex state region income education employed retired student nurse teacher farmer engineer "
    "driver clerk manager artist doctor lawyer cook soldier pastor miner writer baker "
    "years old lives works votes prefers owns rents married single divorced widowed children "
    "urban rural suburban north south east west midwest coast city town village "
    "how often do you agree disagree strongly somewhat neither never sometimes always rarely "
    "question answer option persona respondent survey opinion trust government economy health "
    "climate immigration taxes school church family friends neighbours internet news television "
    "the a an of in on at to for with and or but not is are was were be been has have had "
    "I you he she they we my your their our this that which who what when where why yes no"
).split()
_STATES = "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ".split()


def _corpus(rng: np.random.Generator, n_lines: int) -> list[str]:
    """Survey-flavoured lines; single capital letters appear often, bare and after a space."""
    letters = list(string.ascii_uppercase)
    lines: list[str] = []
    for _ in range(n_lines):
        kind = rng.integers(0, 5)
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(4, 14))))
        if kind == 0:
            lines.append(f"Persona: {int(rng.integers(18, 90))} years old, {rng.choice(_STATES)}. {words}.")
        elif kind == 1:
            k = int(rng.integers(2, 8))
            opts = " ".join(f"{letters[i]}) {rng.choice(_WORDS)}" for i in range(k))
            lines.append(f"Question: {words}? {opts}")
        elif kind == 2:
            lines.append(f"Answer: {rng.choice(letters)}")
        elif kind == 3:
            record = {"age": int(rng.integers(18, 90)), "state": str(rng.choice(_STATES)), "note": words}
            lines.append(json.dumps(record))
        else:
            lines.append(" ".join(rng.choice(letters, size=8)) + " " + "".join(rng.choice(letters, size=3)))
    # Every letter, bare and space-prefixed, many times, so BPE merges "Ġ"+letter for all 26.
    lines.extend([" ".join(letters)] * 50)
    return lines


def _train_tokenizer(lines: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    for letter in string.ascii_uppercase:
        for form in (letter, " " + letter):
            if len(tok.encode(form).ids) != 1:
                raise BackendError(
                    f"tiny tokenizer did not learn {form!r} as one token; raise `vocab_size` of build_tiny_model"
                )
    return tok


def build_tiny_model(
    path: str | os.PathLike,
    *,
    random_state: RandomState = 0,
    vocab_size: int = 2048,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 2,
    max_position_embeddings: int = 2048,
    n_corpus_lines: int = 4000,
) -> Path:
    """Write a random-weight Llama model and a ChatML tokenizer to ``path``.

    The folder loads with ``transformers`` and ``vllm`` under ``HF_HUB_OFFLINE=1``.
    Every capital letter ``"A"`` … ``"Z"`` and its space-prefixed form
    ``" A"`` … ``" Z"`` is a single token, so option letters score cleanly.

    Parameters
    ----------
    path
        Output folder (created if missing; existing model files are overwritten).
    random_state
        Seed for the tokenizer's training corpus and the weights. The same seed
        gives byte-identical weights and tokenizer files.

    Returns
    -------
    pathlib.Path
        The folder, ready to pass as ``model=`` to :class:`personacal.backends.VLLMBackend`.
    """
    # An int seeds torch reproducibly; a Generator could not.
    check_params("build_tiny_model",
                 {"random_state": Interval("int", 0, None), "vocab_size": Interval("int", 600, None)},
                 {"random_state": random_state, "vocab_size": vocab_size})
    rng = check_random_state(int(random_state), func="build_tiny_model")
    try:
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendError(
            "build_tiny_model needs `torch` and `transformers`; install them with `pip install personacal[vllm]`"
        ) from exc

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)

    raw = _train_tokenizer(_corpus(rng, n_corpus_lines), vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=max_position_embeddings,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out)
    # Name the class and embed the template the way transformers 4.x also understands.
    config_path = out / "tokenizer_config.json"
    tok_config = json.loads(config_path.read_text())
    tok_config.update(tokenizer_class="PreTrainedTokenizerFast", chat_template=CHATML_TEMPLATE)
    tok_config["additional_special_tokens"] = tok_config.pop("extra_special_tokens", ["<|im_start|>"])
    config_path.write_text(json.dumps(tok_config, indent=2, sort_keys=True) + "\n")

    eos_ids = [raw.token_to_id("<|im_end|>"), raw.token_to_id("<|endoftext|>")]
    config = LlamaConfig(
        vocab_size=raw.get_vocab_size(),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=raw.token_to_id("<|endoftext|>"),
        eos_token_id=eos_ids,
        pad_token_id=raw.token_to_id("<|endoftext|>"),
        tie_word_embeddings=False,
        dtype="bfloat16",
    )
    seed = int(rng.integers(0, 2**31 - 1))
    with torch.random.fork_rng(devices=[]):  # leave the caller's torch RNG untouched
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model = model.to(torch.bfloat16)
    model.generation_config.eos_token_id = eos_ids
    model.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m personacal.testing PATH [--seed N]``: write the tiny model to PATH."""
    parser = argparse.ArgumentParser(
        prog="python -m personacal.testing",
        description="Write a tiny random-weight Llama model (for offline smoke tests) to PATH.",
    )
    parser.add_argument("path", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    print(build_tiny_model(args.path, random_state=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
