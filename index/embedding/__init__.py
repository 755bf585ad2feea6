"""The embedding model: its offline assembly, the backends that run it, and the factory.

Everything outside this package imports only ``Embedder``, ``load_embedder``,
``ModelUnavailable`` and ``EngineUnavailable`` (an embedding engine down) from here; which
backend runs is decided by ``factory.BACKENDS``.
"""

from index.embedding.base import Embedder
from index.embedding.e5_model import ModelUnavailable
from index.embedding.factory import BACKENDS, LOCAL_BACKENDS, load_embedder
from index.embedding.remote_backend import EngineUnavailable

__all__ = ["BACKENDS", "LOCAL_BACKENDS", "Embedder", "EngineUnavailable", "ModelUnavailable", "load_embedder"]
