"""What a worker needs to map documents, as a small value it can be sent, and the context built from it once.

The parent decides everything (reference folder, classifier, the exact model file by its sha256,
settings, limits, cache folder) and sends a `ContextSpec`; each worker process builds its `MapContext`
from it on its first document and keeps it for the rest, so the model is loaded once per worker, never
once per document. A model file that is not the one the parent chose (changed since) is refused.
"""

from __future__ import annotations

import gc
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.config import Settings
from pipeline.extract import extraction_fingerprint
from pipeline.extract.cache import ExtractCache
from pipeline.run.cache import EXTRACT_FOLDER, RESULTS_FOLDER, ResultCache
from pipeline.run.document import MapContext, code_fingerprint
from pipeline.segment import Segmenter
from pipeline.types import ReferenceSet


@dataclass(frozen=True)
class ContextSpec:
    """How to build a MapContext: paths and hashes only, so it is cheap to send to any worker."""

    reference_dirs: tuple[str, ...]
    frameworks: tuple[str, ...]
    classifier: str
    model_path: str | None
    model_sha256: str | None
    settings: Settings
    cache_dir: str | None
    limits: tuple[tuple[str, float | None], ...] = ()
    #: the stance and commitment models' file and its sha256 (None: evidence gets no stance)
    stance_model_path: str | None = None
    stance_model_sha256: str | None = None

    def fingerprint(self, reference_sha256: str) -> str:
        """What besides a file's content determines its result: code, model, reference, settings, limits."""
        material = {"code": code_fingerprint(), "classifier": self.classifier, "model": self.model_sha256,
                    "stance_model": self.stance_model_sha256,
                    "reference": reference_sha256, "settings": self.settings.to_dict(), "limits": list(self.limits)}
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def build_context(spec: ContextSpec) -> MapContext:
    """Load the reference set and the classifier the spec names; raises if the model file has changed."""
    from pipeline.classify import LexicalClassifier, load_lexicon
    from pipeline.classify.frameworks import FrameworkClassifier
    from pipeline.reference import reference_for_run
    from pipeline.training import DEFAULT_LEXICON, load_model, training_reference

    reference = reference_for_run(spec.reference_dirs, spec.frameworks)
    if spec.classifier == "lexical":
        classifier = LexicalClassifier(lexicon=load_lexicon(DEFAULT_LEXICON)).fit(reference.items)
    else:
        model_path = Path(spec.model_path)
        if file_sha256(model_path) != spec.model_sha256:
            raise RuntimeError(f"{model_path} changed after the run chose it; run again")
        trained = load_model(model_path, training_reference(), DEFAULT_LEXICON)
        if trained is None:
            raise RuntimeError(f"{model_path} is not a model this version of promise-map can read")
        classifier = FrameworkClassifier(trained, reference.items)
    fingerprint = spec.fingerprint(reference.sha256)
    stance = None if spec.stance_model_path is None else chosen_stance_model(spec)
    extract_cache = None
    if spec.cache_dir is not None:
        limits = dict(spec.limits)
        extract_cache = ExtractCache(Path(spec.cache_dir) / EXTRACT_FOLDER, fingerprint=extraction_fingerprint(),
                                     limits={"seconds": limits.get("seconds"), "memory_bytes": limits.get("memory")})
    result_cache = result_cache_of(spec, reference)
    return MapContext(reference=reference, classifier=classifier, settings=spec.settings, fingerprint=fingerprint,
                      segmenter=Segmenter(), extract_cache=extract_cache, result_cache=result_cache,
                      stance=stance)


def result_cache_of(spec: ContextSpec, reference: ReferenceSet) -> ResultCache | None:
    """The run's result cache (None with --no-cache): what a worker stores into and the parent reads from."""
    if spec.cache_dir is None:
        return None
    return ResultCache(Path(spec.cache_dir) / RESULTS_FOLDER, fingerprint=spec.fingerprint(reference.sha256),
                       reference=reference)


def chosen_stance_model(spec: ContextSpec):
    """The stance model file the parent chose; raises if it has changed since or cannot be read."""
    from pipeline.stance.training import load_stance_model

    path = Path(spec.stance_model_path)
    if file_sha256(path) != spec.stance_model_sha256:
        raise RuntimeError(f"{path} changed after the run chose it; run again")
    model = load_stance_model(path)
    if model is None:
        raise RuntimeError(f"{path} is not a stance model this version of promise-map can read")
    return model


_CONTEXTS: dict[str, MapContext] = {}


def context_for(spec: ContextSpec) -> MapContext:
    """The context for `spec` in this process, built on first use (one model load per worker process)."""
    key = json.dumps(asdict(spec), sort_keys=True, default=str)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[key] = build_context(spec)
        # The models live as long as the worker: kept out of the garbage collector's passes, which would
        # otherwise walk all their objects again and again while documents are mapped (200 documents on two
        # workers: stance 0.105-0.114 of classification's time without, 0.099-0.101 with). Garbage first, so
        # none of it is kept for good.
        gc.collect()
        gc.freeze()
    return _CONTEXTS[key]
