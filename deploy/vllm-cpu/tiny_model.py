"""Build a tiny random-weight Qwen3 chat model that vLLM can serve on CPU in seconds.

Run with the vLLM virtualenv's interpreter (it needs torch, transformers, tokenizers)::

    .venv-vllm/bin/python deploy/vllm-cpu/tiny_model.py /tmp/tiny-qwen3

The model says nothing sensible (random weights); it exists so that tests exercise the real
server: tokenizer, Qwen3 chat template with ``enable_thinking``, the qwen3 reasoning parser,
constrained decoding and continuous batching. The tokenizer is trained on generated text that
contains the eight dialect labels, so each of them encodes to a few real tokens.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
DIALECT_LABELS = ["普通话", "四川话", "粤语", "上海话", "东北话", "河南话", "湖南话", "陕西话"]
VOCAB_SIZE = 2000
TRAINING_LINES = 2000

# Qwen3's template, trimmed to what VoxQueue uses (no tools). Earlier assistant turns lose
# their reasoning, as in Qwen3; with enable_thinking=false the new assistant turn opens with
# an empty think block, which is how Qwen3 is told not to think.
CHAT_TEMPLATE = """\
{%- for message in messages %}
{%- if message.role == 'assistant' %}
{%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}
{%- else %}
{%- set content = message.content %}
{%- endif %}
{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' }}
{%- if enable_thinking is defined and enable_thinking is false %}
{{- '<think>\\n\\n</think>\\n\\n' }}
{%- endif %}
{%- endif %}
"""

_CHINESE = (
    "你好我们他她它是的了在有这个那么说话听看想做要会能可以不没很太就都也还又再"
    "今天明天昨天早上晚上吃饭喝水睡觉工作学习朋友家人老师学生城市地方声音语言方言"
    "请问一下谢谢对不起没关系为什么怎么什么哪里谁多少时候因为所以但是如果虽然已经"
)
_ENGLISH = [
    "the",
    "a",
    "is",
    "of",
    "to",
    "and",
    "in",
    "that",
    "it",
    "for",
    "you",
    "with",
    "on",
    "as",
    "are",
    "this",
    "be",
    "at",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
]
_FRAMES = [
    "这段话听起来像{label}。",
    "说话人的口音是{label}。",
    "答案：{label}",
    "{label}",
    "我觉得是{label}，因为{filler}。",
    "用户说：{filler}",
    "助手回答：{filler}，{label}。",
]


def _chinese(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_CHINESE) for _ in range(n))


def training_lines(seed: int = 0, count: int = TRAINING_LINES) -> list[str]:
    """Generated text: Chinese with every dialect label, some English, digits and roles."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            frame = rng.choice(_FRAMES)
            lines.append(frame.format(label=rng.choice(DIALECT_LABELS), filler=_chinese(rng, rng.randint(3, 12))))
        elif kind == 1:
            lines.append(_chinese(rng, rng.randint(5, 30)))
        elif kind == 2:
            lines.append(
                " ".join(rng.choice(_ENGLISH) for _ in range(rng.randint(3, 12))) + f" {rng.randint(0, 9999)}."
            )
        else:
            role = rng.choice(["system", "user", "assistant"])
            lines.append(f"{role}\n{_chinese(rng, rng.randint(4, 16))}\n")
    return lines


def build_tokenizer(seed: int = 0):  # -> PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        # Every byte is in the vocabulary, so any text (any dialect label) can be encoded.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_lines(seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )


def build(out_dir: Path, seed: int = 0, hidden_size: int = 64, layers: int = 2) -> Path:
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    tokenizer = build_tokenizer(seed)
    for label in DIALECT_LABELS:
        ids = tokenizer.encode(label, add_special_tokens=False)
        assert tokenizer.decode(ids) == label, f"label {label!r} does not round-trip through the tokenizer"

    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen3Config(
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=hidden_size // 16,
        num_key_value_heads=hidden_size // 32,
        head_dim=32,  # vLLM's CPU attention accepts 32, 64, 80, ...; 16 fails at the first generate
        intermediate_size=2 * hidden_size,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        vocab_size=len(tokenizer),
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=pad_id,
    )
    torch.manual_seed(seed)
    # bfloat16 is what vLLM's CPU backend runs; saving in it avoids a cast at load time.
    model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(eos_token_id=[eos_id, pad_id], pad_token_id=pad_id)

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="folder to write the model into (created)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tokenizer text and the weights")
    # Larger sizes make each request cost the server more, closer to a real model's share of
    # a job's time (benchmarks); tests keep the defaults.
    parser.add_argument("--hidden-size", type=int, default=64, help="model width (head_dim stays 32)")
    parser.add_argument("--layers", type=int, default=2, help="decoder layers")
    args = parser.parse_args()
    path = build(args.out_dir, args.seed, args.hidden_size, args.layers)
    print(f"tiny Qwen3 model written to {path}")


if __name__ == "__main__":
    main()
