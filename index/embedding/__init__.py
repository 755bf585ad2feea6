"""The embedding model: its offline assembly, the backends that run it, and the factory.

Everything outside this package imports only ``Embedder``, ``load_embedder`` and
``ModelUnavailable`` from here; which backend runs is decided by ``factory.BACKENDS``.
"""

from index.embedding.base import Embedder
from index.embedding.e5_model import ModelUnavailable
from index.embedding.factory import BACKENDS, load_embedder

__all__ = ["BACKENDS", "Embedder", "ModelUnavailable", "load_embedder"]
