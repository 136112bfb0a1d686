"""Scoring: token evidence moves the Dice score the documented way, within its caps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hashmatch.link.scoring import (
    DEFAULT_EVIDENCE,
    ScoringConfig,
    TokenEvidence,
    combine_scores,
    token_agreement,
)

CONFIG = ScoringConfig.for_tokens({"email": "identifier", "surname_dob": "match", "blk": "block"})


def arrays(*values: bool) -> np.ndarray:
    return np.array(values, np.bool_)


def test_agreeing_identifier_near_threshold_beats_clk_alone() -> None:
    dice = np.array([0.72, 0.80], np.float32)
    score = combine_scores(dice, {"email": arrays(True, False)}, {"email": arrays(True, False)},
                           CONFIG)
    assert score[0] > score[1]
    assert score[1] == pytest.approx(0.80)  # missing token: no evidence either way


def test_agreeing_identifier_cannot_rescue_a_dissimilar_pair() -> None:
    score = combine_scores(np.array([0.40], np.float32), {"email": arrays(True)},
                           {"email": arrays(True)}, CONFIG)
    assert score[0] < 0.6


def test_disagreeing_identifier_is_weaker_counter_evidence() -> None:
    dice = np.full(3, 0.8, np.float32)
    agree = {"email": arrays(True, False, False)}
    both = {"email": arrays(True, True, False)}
    up, down, same = combine_scores(dice, agree, both, CONFIG) - 0.8
    assert same == pytest.approx(0.0, abs=1e-6)
    assert up > 0 > down
    assert abs(down) < abs(up) / 2


def test_bonus_follows_log_likelihood_ratio() -> None:
    ev = DEFAULT_EVIDENCE["identifier"]
    assert ev is not None
    score = combine_scores(np.array([0.5], np.float32), {"email": arrays(True)},
                           {"email": arrays(True)}, CONFIG)
    assert score[0] == pytest.approx(0.5 + CONFIG.dice_per_bit * math.log2(ev.m / ev.u), abs=1e-6)


def test_caps_and_clipping() -> None:
    strong = TokenEvidence(0.99, 1e-6)
    config = ScoringConfig(evidence={"a": strong, "b": strong})
    yes = {"a": arrays(True, False), "b": arrays(True, False)}
    both = {"a": arrays(True, True), "b": arrays(True, True)}
    score = combine_scores(np.array([0.5, 0.05], np.float32), yes, both, config)
    assert score[0] == pytest.approx(0.5 + config.max_bonus)
    assert score[1] == 0.0  # penalties capped, then clipped to [0, 1]
    high = combine_scores(np.array([0.95], np.float32), {"a": arrays(True)},
                          {"a": arrays(True)}, config)
    assert high[0] == 1.0
    assert high.dtype == np.float32


def test_block_keys_and_unknown_columns_carry_no_score() -> None:
    dice = np.array([0.7], np.float32)
    agree = {"blk": arrays(True), "other": arrays(True)}
    assert combine_scores(dice, agree, agree, CONFIG)[0] == pytest.approx(0.7)


def test_token_agreement_treats_all_zero_as_missing() -> None:
    left = np.zeros((3, 16), np.uint8)
    right = np.zeros((3, 16), np.uint8)
    left[0, 0] = right[0, 0] = 5  # agree
    left[1, 0], right[1, 0] = 5, 6  # disagree
    # row 2: both missing -> not an agreement
    i = j = np.arange(3)
    agree, both = token_agreement({"t": left}, {"t": right}, i, j)
    np.testing.assert_array_equal(agree["t"], [True, False, False])
    np.testing.assert_array_equal(both["t"], [True, True, False])


def test_bad_config_and_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        ScoringConfig.for_tokens({"x": "fuzzy"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="0 < m, u < 1"):
        TokenEvidence(m=1.0, u=0.1)
    with pytest.raises(ValueError, match="shape"):
        combine_scores(np.zeros(2, np.float32), {"email": arrays(True)}, {"email": arrays(True)},
                       CONFIG)


def test_each_clearly_disagreeing_stable_field_scales_the_score() -> None:
    dice = np.full(3, 0.8, np.float32)
    date = arrays(True, True, False)
    first_name = arrays(True, False, False)
    score = combine_scores(dice, {}, {}, CONFIG, [date, first_name])
    assert score.tolist() == pytest.approx([0.8 * 0.8 * 0.8, 0.8 * 0.8, 0.8])
    off = ScoringConfig(disagreement_factor=1.0)
    assert combine_scores(dice, {}, {}, off, [date, first_name]).tolist() == pytest.approx(
        [0.8] * 3
    )


def test_disagreements_must_align_with_the_scores() -> None:
    with pytest.raises(ValueError, match="shape of dice"):
        combine_scores(np.full(3, 0.8, np.float32), {}, {}, CONFIG, [arrays(True)])
    with pytest.raises(ValueError, match="disagreement_factor"):
        ScoringConfig(disagreement_factor=1.5)
