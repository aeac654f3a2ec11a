import numpy as np
import pytest

from maskface.masksim import STYLES
from maskface.matching import idm_figures, person_scores, tar_at_far
from training.protocols import idm_split


def test_perfectly_separated_scores_accept_every_genuine_pair():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.0, 0.5, (300, 20))
    truth = rng.integers(0, 20, 300)
    scores[np.arange(300), truth] = rng.uniform(0.6, 1.0, 300)
    figures = idm_figures(scores, truth)
    assert figures["rank1"] == 1.0
    assert figures["tar_at_far_1.0%"] == 1.0 and figures["tar_at_far_0.1%"] == 1.0
    assert figures["genuine_pairs"] == 300 and figures["impostor_pairs"] == 300 * 19
    assert 0.45 < figures["threshold_at_far_1.0%"] <= 0.5


def test_random_scores_accept_genuine_pairs_at_the_false_accept_rate():
    rng = np.random.default_rng(1)
    scores = rng.uniform(-1, 1, (4000, 50))
    truth = rng.integers(0, 50, 4000)
    figures = idm_figures(scores, truth)
    assert figures["rank1"] == pytest.approx(1 / 50, abs=0.01)
    assert figures["tar_at_far_1.0%"] == pytest.approx(0.01, abs=0.005)
    assert figures["tar_at_far_0.1%"] == pytest.approx(0.001, abs=0.002)


def test_the_threshold_never_accepts_more_impostors_than_the_rate_even_with_ties():
    tar, threshold = tar_at_far(np.full(10, 0.5), np.full(1000, 0.5), 0.01)
    assert threshold > 0.5 and tar == 0.0
    impostor = np.arange(1000) / 1000
    tar, threshold = tar_at_far(np.array([0.99, 0.989, 0.5]), impostor, 0.01)
    assert np.mean(impostor >= threshold) <= 0.01 and np.mean(impostor >= threshold - 1e-3) > 0.01
    assert tar == pytest.approx(1 / 3)


def test_person_scores_rules():
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    owners = np.array([0, 0, 1])
    probe = np.array([[1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(person_scores(probe, gallery, owners, 2, "max"), [[1.0, 0.6]])
    np.testing.assert_allclose(person_scores(probe, gallery, owners, 2, "top2"), [[0.5, 0.6]])
    np.testing.assert_allclose(person_scores(probe, gallery, owners, 2, "centroid"), [[np.sqrt(0.5), 0.6]], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown scoring rule"):
        person_scores(probe, gallery, owners, 2, "mean")


def test_idm_split_follows_the_data_readme(shared_data):
    gallery, probes = idm_split(shared_data / "lfw")
    people = {item.person for item in gallery}
    assert len(people) == 84 and {item.person for item in probes} == people
    assert len(gallery) == 168 and len(probes) == 639
    assert not {item.file_name for item in gallery} & {item.file_name for item in probes}
    first = [item.file_name for item in gallery if item.person == "Allyson_Felix"]
    assert first == ["images/Allyson_Felix/Allyson_Felix_0001.jpg", "images/Allyson_Felix/Allyson_Felix_0002.jpg"]
    assert [p.seed for p in probes] == list(range(639))
    assert [p.style for p in probes[: len(STYLES)]] == list(STYLES)
