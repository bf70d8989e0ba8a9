"""A subword vocabulary learnt from the training texts: byte-level BPE.

Built with Hugging Face ``tokenizers``: every string is representable (bytes,
never an unknown token) and decoding gives the text back exactly, so a model
can copy names, numbers and placeholders such as ``%(name)s`` it never saw
whole. One vocabulary serves source and target (joint BPE, as usual for
translation between related languages).

Ids: 0 padding, 1 BOS, 2 EOS, then the learnt pieces.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

PAD, BOS, EOS = 0, 1, 2
SPECIAL = ["<pad>", "<bos>", "<eos>"]


class Subwords:
    """Text ↔ ids with a fitted byte-level BPE tokenizer."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer

    @classmethod
    def fit(cls, texts: list[str], vocab_size: int, min_frequency: int = 2) -> Subwords:
        """Learn up to ``vocab_size`` pieces (specials and the 256 bytes included)."""
        tokenizer = Tokenizer(models.BPE())
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=SPECIAL,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer)

    @property
    def size(self) -> int:
        return int(self.tokenizer.get_vocab_size())

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Piece ids of each text, without BOS/EOS."""
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        """The text of piece ids; padding, BOS and EOS are skipped."""
        return str(self.tokenizer.decode([i for i in ids if i > EOS], skip_special_tokens=True))

    def to_json(self) -> str:
        return str(self.tokenizer.to_str())

    @classmethod
    def from_json(cls, text: str) -> Subwords:
        return cls(Tokenizer.from_str(text))
