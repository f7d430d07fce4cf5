"""Segmenter on synthetic users with planted groups: buyers, long-dwell browsers, lapsed users.

The groups are built as feature dicts shaped like `UserFeatures.values(now)`, so the tests run
the same path as production without folding thousands of events.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from tailorai.errors import ConfigError, DataError
from tailorai.segments import segmenter as segmenter_module
from tailorai.segments.features import engagement
from tailorai.segments.naming import describe, name_segments
from tailorai.segments.segmenter import SegmentationWarning, Segmenter
from tailorai.segments.selection import plot_selection

NOW = 1_800_000_000.0
GROUPS = ("buyers", "browsers", "lapsed")


def _user(group: str, rng: np.random.Generator) -> dict:
    buyer, lapsed = group == "buyers", group == "lapsed"
    purchases = int(rng.poisson(5) + 2) if buyer else 0
    events = int(rng.poisson(10 if lapsed else 70) + 2)
    recency = rng.uniform(45, 120) if lapsed else rng.uniform(0, 4)
    mobile = rng.uniform(0.75, 1.0) if buyer else rng.uniform(0.0, 0.5)
    last_seen = NOW - recency * 86_400
    features = {
        "recency_days": recency,
        "frequency_per_day": rng.uniform(0.0, 0.03) if lapsed else rng.uniform(1.0, 4.0),
        "events": events,
        "sessions": max(1, events // int(rng.integers(4, 8))),
        "mean_dwell_s": max(1.0, rng.normal(200 if group == "browsers" else 35, 15)),
        "mean_scroll_depth": rng.uniform(70, 95) if group == "browsers" else rng.uniform(20, 60),
        "click_through": rng.uniform(0.02, 0.1),
        "form_submissions": int(rng.poisson(0.3)),
        "purchases": purchases,
        "revenue": purchases * rng.uniform(30, 80),
        "top_categories": ["shoes", "bags"] if buyer else ["news"],
        "category_weights": {},
        "device_mix": {"desktop": 1 - mobile, "mobile": mobile},
        "first_seen": last_seen - rng.uniform(30, 300) * 86_400,
        "last_seen": last_seen,
    }
    features["engagement"] = engagement(features)
    return features


def _users(per_group: int, seed: int) -> tuple[list[dict], np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(GROUPS)), per_group)
    return [_user(GROUPS[g], rng) for g in truth], truth


@pytest.fixture(scope="module")
def planted() -> tuple[list[dict], np.ndarray]:
    return _users(80, seed=1)


@pytest.fixture(scope="module")
def fitted(planted) -> Segmenter:
    users, _ = planted
    return Segmenter(k="auto").fit(users)


def _segment_of(model: Segmenter, truth: np.ndarray, group: str) -> int:
    """The segment most of a planted group landed in."""
    return int(np.bincount(model.labels_[truth == GROUPS.index(group)]).argmax())


def test_auto_k_finds_the_three_planted_groups(fitted, planted):
    _, truth = planted
    assert fitted.n_clusters_ == 3
    assert adjusted_rand_score(truth, fitted.labels_) > 0.9
    assert fitted.cluster_centers_.shape == (3, len(fitted.feature_names_in_))
    assert fitted.fit_predict(planted[0]).tolist() == fitted.labels_.tolist()


def test_names_say_what_sets_each_group_apart(fitted, planted):
    _, truth = planted
    names = {g: fitted.names_[_segment_of(fitted, truth, g)] for g in GROUPS}
    assert names["buyers"] == "buyers (mobile)"  # buyers here browse on their phones
    assert names["lapsed"] == "lapsed"
    assert names["browsers"] in ("engaged readers", "browsers")
    assert len(set(fitted.names_.values())) == fitted.n_clusters_


def test_profiles_are_in_original_units(fitted, planted):
    users, truth = planted
    buyers = fitted.profiles_[_segment_of(fitted, truth, "buyers")]
    assert buyers["size"] == 80 and buyers["share"] == pytest.approx(1 / 3)
    mean_revenue = np.mean([u["revenue"] for u in users[:80]])
    assert buyers["means"]["revenue"] == pytest.approx(mean_revenue)
    assert buyers["description"].startswith(("purchases ↑", "revenue ↑"))
    assert buyers["mobile_share"] > 0.7
    assert sum(p["size"] for p in fitted.profiles_) == len(users)


def test_predict_puts_new_users_in_their_groups_segment(fitted, planted):
    _, truth = planted
    new, new_truth = _users(10, seed=2)
    expected = [_segment_of(fitted, truth, GROUPS[g]) for g in new_truth]
    assert fitted.predict(new).tolist() == expected


def test_assign_one_agrees_with_predict(fitted):
    new, _ = _users(10, seed=3)
    labels = fitted.predict(new)
    assert [fitted.assign_one(u) for u in new] == [(int(c), fitted.names_[c]) for c in labels]


def test_selection_table_scores_each_k(fitted, tmp_path):
    assert [row["k"] for row in fitted.selection_] == list(range(2, 9))
    for row in fitted.selection_:
        assert -1 <= row["silhouette"] <= 1 and row["davies_bouldin"] > 0
    assert [row["k"] for row in fitted.selection_ if row["chosen"]] == [3]
    path = plot_selection(fitted.selection_, tmp_path / "selection.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_silhouette_is_sampled_on_large_data(planted):
    users, truth = planted
    model = Segmenter(k=3, sample_size=50).fit(users)
    assert adjusted_rand_score(truth, model.labels_) > 0.9
    assert len(model.selection_) == 1 and np.isfinite(model.selection_[0]["silhouette"])


def test_dbscan_leaves_a_far_outlier_unassigned(planted):
    users, truth = planted
    model = Segmenter(method="dbscan", eps="auto").fit(users)
    assert model.n_clusters_ == 3
    placed = model.labels_ >= 0
    assert placed.mean() > 0.8
    assert adjusted_rand_score(truth[placed], model.labels_[placed]) > 0.9
    outlier = dict(users[0], events=10**6, revenue=10**8, purchases=5_000, mean_dwell_s=9_000)
    assert model.predict([outlier]).tolist() == [-1]
    assert model.assign_one(outlier) == (-1, "unassigned")
    assert {row["eps"] for row in model.selection_} >= {model.eps_}
    for user in _users(5, seed=4)[0]:
        assert model.assign_one(user)[0] == model.predict([user])[0]


def test_agglomerative_finds_the_groups(planted):
    users, truth = planted
    model = Segmenter(method="agglomerative").fit(users)
    assert model.n_clusters_ == 3
    assert adjusted_rand_score(truth, model.labels_) > 0.9
    new, new_truth = _users(5, seed=5)
    predicted = model.predict(new)
    assert adjusted_rand_score(new_truth, predicted) == 1.0
    assert [model.assign_one(u)[0] for u in new] == predicted.tolist()


def test_agglomerative_on_more_rows_than_sample_size_warns_and_labels_all(planted):
    users, truth = planted
    with pytest.warns(SegmentationWarning, match="random 100 of 240"):
        model = Segmenter(method="agglomerative", k=3, sample_size=100).fit(users)
    assert adjusted_rand_score(truth, model.labels_) > 0.9


def test_minibatch_is_used_past_the_row_threshold(planted, monkeypatch):
    monkeypatch.setattr(segmenter_module, "MINIBATCH_ABOVE", 100)
    users, truth = planted
    model = Segmenter(k=3).fit(users)
    assert model.method_ == "minibatch_kmeans"
    assert adjusted_rand_score(truth, model.labels_) > 0.9


def test_arrays_fit_like_dicts(planted):
    users, truth = planted
    names = ["recency_days", "purchases", "revenue", "mean_dwell_s"]
    X = np.array([[u[n] for n in names] for u in users])
    model = Segmenter(features=names).fit(X)
    assert list(model.feature_names_in_) == names
    assert adjusted_rand_score(truth, model.labels_) > 0.9
    assert model.predict(X[:5]).tolist() == model.labels_[:5].tolist()
    assert model.assign_one(users[0])[0] == model.labels_[0]  # dicts work on array models too
    with pytest.raises(DataError, match="X has 3 features, but Segmenter was fitted with 4"):
        model.predict(X[:, :3])


def test_extra_features_device_share_and_category_indicator(planted):
    users, truth = planted
    model = Segmenter(k=2, features=["purchases", "device:mobile", "category:shoes"]).fit(users)
    assert adjusted_rand_score(truth == 0, model.labels_) == 1.0
    buyers = model.profiles_[_segment_of(model, truth, "buyers")]
    assert buyers["means"]["category:shoes"] == 1.0


def test_user_names_override_generated_ones(planted):
    users, _ = planted
    with pytest.warns(SegmentationWarning, match=r"labels \[9\] that no segment has"):
        model = Segmenter(k=3, names={0: "VIPs", 9: "ghosts"}).fit(users)
    assert model.names_[0] == "VIPs" and model.profiles_[0]["name"] == "VIPs"
    assert len(set(model.names_.values())) == 3


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        Segmenter().predict([{"events": 1}])
    with pytest.raises(NotFittedError):
        Segmenter().assign_one({"events": 1})


def test_parameter_errors_are_raised_by_fit_in_the_house_wording(planted):
    segmenter = Segmenter(k=0)  # the constructor only stores
    with pytest.raises(ConfigError) as caught:
        segmenter.fit(planted[0])
    assert str(caught.value) == (
        "The 'k' parameter of Segmenter must be an int in [2, 100] or 'auto'. Got 0 instead."
    )


METHODS = "{'kmeans', 'minibatch_kmeans', 'dbscan', 'agglomerative'}"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"k": "many"}, "an int in [2, 100] or 'auto'. Got 'many' instead."),
        ({"k": True}, "an int in [2, 100] or 'auto'. Got True instead."),
        ({"method": "spectral"}, f"a str among {METHODS}. Got 'spectral' instead."),
        (
            {"k_range": (5, 2)},
            "a pair (low, high) of ints with 2 <= low <= high <= 100. Got (5, 2) instead.",
        ),
        ({"eps": -1.0}, "a float in (0, inf) or 'auto'. Got -1.0 instead."),
        ({"min_samples": 0}, "an int in [1, inf). Got 0 instead."),
        ({"sample_size": 5}, "an int in [10, inf). Got 5 instead."),
        ({"features": []}, "a non-empty list of distinct feature names or None. Got [] instead."),
        ({"features": 5}, "a non-empty list of distinct feature names or None. Got 5 instead."),
        ({"features": ["evnets"]}, "names among ['click_through', "),
        ({"random_state": -1}, "an int in [0, 2**32 - 1] or None. Got -1 instead."),
        (
            {"names": {0: ""}},
            "a dict of {segment label: distinct non-empty name} or None. Got {0: ''} instead.",
        ),
    ],
)
def test_every_parameter_error_reads_the_same(planted, params, expected):
    [param] = params
    with pytest.raises(ConfigError) as caught:
        Segmenter(**params).fit(planted[0])
    assert str(caught.value).startswith(f"The '{param}' parameter of Segmenter must be {expected}")


def test_it_is_a_scikit_learn_estimator():
    model = Segmenter(method="dbscan", k=4, names={1: "x"})
    assert clone(model).get_params() == model.get_params()
    assert model.set_params(k=5).k == 5


def test_too_few_users_is_a_data_error():
    with pytest.raises(DataError, match="at least 3 users"):
        Segmenter().fit([{"events": 1}, {"events": 2}])


def test_names_are_distinct_and_qualified_by_what_differs():
    features = ["purchases", "revenue", "frequency_per_day"]
    z = np.array([[2.0, 2.0, -1.0], [2.5, 1.0, 1.5], [-1.0, -1.0, -0.5]])
    names = name_segments(z, features, mobile_share=[0.9, 0.2, 0.2], overall_mobile_share=0.4)
    # the strongest buyers keep the plain name; their sibling is told apart by frequency
    assert names == ["buyers, infrequent (mobile)", "buyers", "casual visitors"]
    assert name_segments(z, features, overrides={2: "buyers"}) == [
        "buyers, infrequent",
        "buyers 2",
        "buyers",
    ]


def test_describe_lists_the_most_distinctive_traits():
    assert describe([3.1, 2.8, 0.1], ["purchases", "revenue", "events"]) == (
        "purchases ↑3.1σ, revenue ↑2.8σ"
    )
    assert describe([0.1, -0.2], ["a", "b"]) == "close to the average user"


def test_no_warnings_on_a_plain_fit(planted):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Segmenter(k=3).fit(planted[0])
