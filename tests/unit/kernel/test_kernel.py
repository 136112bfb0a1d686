"""Unit tests of the public kernel wrapper: values, edge cases, validation, variants."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from hashmatch import kernel
from hashmatch.kernel import reference as kernel_numpy


def rows(*bit_lists: list[int], words: int = 1) -> np.ndarray:
    out = np.zeros((len(bit_lists), words), dtype=np.uint64)
    for r, bits in enumerate(bit_lists):
        for bit in bits:
            out[r, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
    return out


def test_popcount_counts_bits_per_row() -> None:
    a = rows([0, 1, 2], [], list(range(128)), words=2)
    assert kernel.popcount(a).tolist() == [3, 0, 128]


def test_dice_value_and_order() -> None:
    a = rows([0, 1, 2, 3], [0, 1])
    b = rows([0, 1], [0, 1, 2, 3], [10])
    i, j, s = kernel.dice_pairs(a, b, 0.6)
    assert i.tolist() == [0, 0, 1, 1]
    assert j.tolist() == [0, 1, 0, 1]
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, [2 * 2 / 6, 1.0, 1.0, 2 * 2 / 6], rtol=1e-7)


def test_jaccard_and_hamming_metrics() -> None:
    a = rows([0, 1, 2, 3])
    b = rows([2, 3, 4])
    _, _, jac = kernel.similarity_pairs(a, b, 0.0, metric="jaccard")
    _, _, ham = kernel.similarity_pairs(a, b, 0.0, metric="hamming")
    assert jac.tolist() == [np.float32(2 / 5)]
    assert ham.tolist() == [np.float32(1 - 3 / 64)]


def test_empty_filters_never_match_even_at_threshold_zero() -> None:
    a = rows([], [1])
    i, j, _ = kernel.dice_pairs(a, rows([], [1]), 0.0)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(1, 1)]
    assert kernel.dice_candidates(a, a, np.array([0, 1]), np.array([0, 1])).tolist() == [0, 1]


def test_threshold_one_keeps_only_identical_rows() -> None:
    a = rows([1, 2], [1, 2, 3], [1, 2])
    i, j, s = kernel.dice_pairs(a, None, 1.0)
    assert (i.tolist(), j.tolist(), s.tolist()) == ([0], [2], [1.0])


def test_self_comparison_returns_i_below_j_once() -> None:
    a = rows([1], [1], [1])
    i, j, _ = kernel.dice_pairs(a, None, 0.5)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize("shape", [(0, 16), (3, 0)])
def test_empty_inputs_give_empty_results(shape: tuple[int, int]) -> None:
    a = np.zeros(shape, dtype=np.uint64)
    i, j, s = kernel.dice_pairs(a, a, 0.5)
    assert (i.size, j.size, s.size) == (0, 0, 0)
    assert (i.dtype, j.dtype, s.dtype) == (np.int64, np.int64, np.float32)
    assert kernel.dice_topk(a, None, 2, 0.0)[0].size == 0
    assert list(kernel.iter_dice_pairs(a, None, 0.0)) == []


def test_topk_keeps_best_per_row_best_first() -> None:
    a = rows([0, 1, 2, 3])
    b = rows([0], [0, 1, 2, 3], [0, 1], [0, 1, 2])
    i, j, s = kernel.dice_topk(a, b, 2, 0.1)
    assert i.tolist() == [0, 0]
    assert j.tolist() == [1, 3]
    assert s[0] > s[1]


def test_bool_and_byte_inputs_are_padded_to_words() -> None:
    rng = np.random.default_rng(7)
    bits = rng.random((20, 100)) < 0.4  # 100 bits: not a multiple of 64
    packed = np.packbits(bits, axis=1)  # 13 bytes
    from_bool = kernel.similarity_pairs(bits, None, 0.3, metric="hamming")
    from_bytes = kernel.similarity_pairs(packed, None, 0.3, metric="hamming")
    np.testing.assert_array_equal(from_bool[0], from_bytes[0])
    # hamming normalises by the caller's bit length, not the padded one
    i, j, s = from_bool
    d = (bits[i] != bits[j]).sum(axis=1)
    np.testing.assert_array_equal(s, (1.0 - d / 100).astype(np.float32))
    assert kernel.popcount(bits).tolist() == bits.sum(axis=1).tolist()


def test_results_identical_for_any_thread_count() -> None:
    rng = np.random.default_rng(3)
    a = np.packbits(rng.random((300, 1024)) < 0.3, axis=1).view(np.uint64)
    b = np.packbits(rng.random((500, 1024)) < 0.3, axis=1).view(np.uint64)
    one = kernel.dice_pairs(a, b, 0.3, threads=1)
    assert one[0].size > 1000
    for threads in (2, 3, 7):
        for got, want in zip(kernel.dice_pairs(a, b, 0.3, threads=threads), one, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda a: kernel.dice_pairs(a.astype(np.int64), None, 0.5), TypeError),
        (lambda a: kernel.dice_pairs(a[0], None, 0.5), ValueError),
        (lambda a: kernel.dice_pairs(a, a[:, :1], 0.5), ValueError),
        (lambda a: kernel.dice_pairs(a, None, 1.5), ValueError),
        (lambda a: kernel.dice_pairs(a, None, float("nan")), ValueError),
        (lambda a: kernel.dice_pairs(a, None, 0.5, threads=0), ValueError),
        (lambda a: kernel.similarity_pairs(a, None, 0.5, metric="cosine"), ValueError),
        (lambda a: kernel.dice_topk(a, None, 0, 0.5), ValueError),
        (lambda a: kernel.dice_candidates(a, None, [0], [5]), IndexError),
        (lambda a: kernel.dice_candidates(a, None, [0], [0, 1]), ValueError),
        (lambda a: list(kernel.iter_dice_pairs(a, None, 0.5, row_chunk=0)), ValueError),
    ],
)
def test_invalid_arguments_are_refused(call, error: type[Exception]) -> None:
    with pytest.raises(error):
        call(np.ones((2, 2), dtype=np.uint64))


def test_non_contiguous_input_is_accepted() -> None:
    a = np.arange(40, dtype=np.uint64).reshape(10, 4)[:, ::2]
    want = kernel_numpy.similarity_pairs(np.ascontiguousarray(a), None, 0.2)
    np.testing.assert_array_equal(kernel.dice_pairs(a, None, 0.2)[1], want[1])


def test_auto_picks_the_fastest_available_variant() -> None:
    assert kernel.available_kernels()[-1] == "numpy"
    assert kernel.active_kernel() == kernel.available_kernels()[0]


def _run_with(env_value: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import numpy as np; from hashmatch import kernel; "
        "a = np.arange(1, 9, dtype=np.uint64).reshape(4, 2); "
        "print(kernel.active_kernel(), kernel.dice_pairs(a, None, 0.3)[0].size)"
    )
    env = {**os.environ, "HASHMATCH_KERNEL": env_value}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("name", ["numpy", "scalar"])
def test_env_var_forces_a_variant(name: str) -> None:
    result = _run_with(name)
    assert result.returncode == 0, result.stderr
    want = kernel_numpy.similarity_pairs(
        np.arange(1, 9, dtype=np.uint64).reshape(4, 2), None, 0.3
    )[0].size
    assert result.stdout.split() == [name, str(want)]


def test_env_var_with_unknown_variant_fails_loudly() -> None:
    result = _run_with("gpu")
    assert result.returncode != 0
    assert "HASHMATCH_KERNEL" in result.stderr
