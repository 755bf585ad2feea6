"""The one place that knows the backends: ``load_embedder`` opens the one ``settings.backend`` names."""

from __future__ import annotations

import importlib

from index.embedding.base import Embedder
from index.embedding.e5_model import ModelUnavailable
from index.embedding.threads import limit_numpy_blas
from settings import Settings

# settings.backend -> "module:class"; each class has ``open(settings)``. ONNX is the default:
# the same vectors (cosine to torch >= 0.99999) at half the time per question, onnxruntime runs a
# whole forward pass without holding the GIL (BENCHMARKS.md, "Inference backends"), and a server
# on it never imports torch. Modules are imported on demand, so only the chosen one is loaded.
BACKENDS = {
    "onnx": "index.embedding.onnx_backend:OnnxEmbedder",
    "onnx-int8": "index.embedding.onnx_int8_backend:OnnxInt8Embedder",
    "torch": "index.embedding.torch_backend:TorchEmbedder",
    # An embedding engine (Infinity, TEI, vLLM…) over the OpenAI-compatible /embeddings protocol.
    "remote": "index.embedding.remote_backend:RemoteEmbedder",
}
# The backends that run the model in this process (the benchmark compares them side by side).
LOCAL_BACKENDS = tuple(name for name in BACKENDS if name != "remote")


def load_embedder(settings: Settings) -> Embedder:
    """The model ``settings.model`` on the backend ``settings.backend``, on the CPU."""
    if settings.backend not in BACKENDS:
        raise ModelUnavailable(
            f"YIBAO_BACKEND={settings.backend!r} is not a backend; choose one of {', '.join(BACKENDS)}"
        )
    module, _, attribute = BACKENDS[settings.backend].partition(":")
    backend = getattr(importlib.import_module(module), attribute)
    limit_numpy_blas()
    return backend.open(settings)
