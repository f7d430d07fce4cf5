"""Experiments on the real store, registry and Personalizer: who gets which version, and the
decisions a simulated population must lead to."""

from __future__ import annotations

import pytest

from tailorai.errors import ConfigError, RegistryError
from tailorai.generation import LocalBackend, Personalizer
from tailorai.projects import ensure_project
from tailorai.rollout.experiments import Experiments, ExperimentSettings
from tailorai.rollout.simulate import simulate_rollout
from tailorai.store import Store
from tailorai.training.registry import Registry
from tests.training.test_registry import _register, build_artifacts


@pytest.fixture
def store(store_url):
    store = Store(store_url)
    ensure_project(store, "shop")
    yield store
    store.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("experiment-artifacts"), tokenizer)


def test_an_experiment_needs_real_versions_and_one_scope_at_a_time(store, artifacts, tmp_path):
    registry = Registry(store, home=tmp_path, project="shop")
    first = _register(registry, "global", artifacts)
    second = _register(registry, "global", artifacts)
    registry.promote(first.ref)
    experiments = Experiments(store, registry, project="shop")
    with pytest.raises(RegistryError, match="global@9"):
        experiments.create("try-9", "global@9")
    with pytest.raises(RegistryError, match="already in production"):
        experiments.create("try-1", first.ref)
    with pytest.raises(ConfigError, match="ramp"):
        experiments.create("bad", second.ref, settings=ExperimentSettings(ramp=[0.5, 0.1]))
    made = experiments.create("try-2", second.ref)
    assert [a["version"] for a in made.arms] == [first.ref, second.ref]
    assert made.scope == "global" and made.traffic == 0.05 and made.status == "running"
    with pytest.raises(ConfigError, match="already runs on global"):
        experiments.create("again", second.ref)
    stopped = experiments.stop("try-2")
    assert stopped.status == "stopped" and experiments.running("global") is None
    with pytest.raises(ConfigError, match="exists"):
        experiments.create("try-2", second.ref)


def test_the_personalizer_serves_each_unit_its_arm_for_good(store, artifacts, tmp_path):
    registry = Registry(store, home=tmp_path, project="shop")
    control = _register(registry, "global", artifacts)
    candidate = _register(registry, "global", artifacts, method="dora")
    registry.promote(control.ref)
    experiments = Experiments(store, registry, project="shop")
    experiments.create("dora", candidate.ref, settings=ExperimentSettings(ramp=[1.0]))
    backend = LocalBackend(str(artifacts["base"]))
    personalizer = Personalizer(
        store=store, backend=backend, project="shop", registry=registry, max_new_tokens=2
    )
    try:
        made = {f"u{i}": personalizer.generate(f"u{i}", "email", {"goal": "hi"}) for i in range(24)}
        again = personalizer.generate("u0", "email", {"goal": "hi"})
        visitor = personalizer.generate(None, "email", {"goal": "hi"}, anonymous_id="anon-7")
        identified = personalizer.generate("u-new", "email", {"goal": "hi"}, anonymous_id="anon-7")
    finally:
        backend.close()
    arms = {g.experiment_arm for g in made.values()}
    assert arms == {"dora:control", "dora:candidate"}
    for g in made.values():
        expected = control.ref if g.experiment_arm == "dora:control" else candidate.ref
        assert g.model_version == expected
    assert again.experiment_arm == made["u0"].experiment_arm
    assert identified.experiment_arm == visitor.experiment_arm  # kept across identify


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ({"lift": 0.3}, "promoted"),
        ({"lift": -0.3}, "rolled_back"),
        ({"lift": 0.0, "srm": 0.3}, "stopped"),
        ({"lift": 0.0, "complaints": 2.0}, "rolled_back"),
        ({"lift": 0.0, "slower": 3.0}, "rolled_back"),
    ],
)
def test_a_simulated_population_leads_to_the_right_decision(tmp_path, scenario, expected):
    store = Store(f"sqlite:///{tmp_path / 'sim.db'}")
    result = simulate_rollout(store, tmp_path, seed=3, users_per_day=2000, max_days=14, **scenario)
    assert result.outcome == expected, result.reason
    registry = Registry(store, home=tmp_path, project="simulation")
    production = registry.production("global").ref
    assert production == ("simulated@2" if expected == "promoted" else "simulated@1")
    if scenario.get("srm"):
        assert result.srm_flagged and "sample ratio mismatch" in result.reason
    if scenario.get("complaints"):
        assert "negative feedback" in result.reason
    if scenario.get("slower"):
        assert "latency" in result.reason
    if expected == "promoted":
        assert result.ramp[0] == 0.05 and max(result.ramp) > 0.05  # it ramped up first
    store.close()


def test_an_a_a_test_ends_inconclusive_in_95_percent_of_seeded_runs(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'aa.db'}")
    outcomes = [
        simulate_rollout(store, tmp_path, lift=0.0, seed=seed, users_per_day=1000, max_days=7)
        for seed in range(20)
    ]
    inconclusive = sum(r.outcome == "inconclusive" for r in outcomes)
    assert inconclusive >= 19, [r.reason for r in outcomes if r.outcome != "inconclusive"]
    store.close()


def test_experiments_and_feedback_show_over_http_and_in_the_dashboard(tmp_path):
    from tailorai.projects import create_key
    from tailorai.server import create_app
    from tests.server.conftest import serve, sign_in

    store = Store(f"sqlite:///{tmp_path / 'server.db'}")
    result = simulate_rollout(store, tmp_path, lift=0.3, seed=3, users_per_day=2000, max_days=14)
    secret = create_key(store, "simulation", "secret")
    app = create_app(store, rate_limit=0, home=tmp_path)
    for url in serve(app):
        import httpx

        with httpx.Client(base_url=url, timeout=30) as http:
            auth = {"Authorization": f"Bearer {secret}"}
            listed = http.get("/v1/experiments", headers=auth).json()["experiments"]
            one = http.get(f"/v1/experiments/{listed[0]['name']}", headers=auth)
            missing = http.get("/v1/experiments/nope", headers=auth)
            sign_in(http, secret)
            page = http.get("/experiments")
            feedback_page = http.get("/feedback")
    assert result.outcome == "promoted"
    assert listed[0]["status"] == "promoted" and one.status_code == 200
    assert one.json()["decision"]["action"] == "promoted"
    assert missing.status_code == 404
    assert page.status_code == 200 and "significantly better" in page.text
    assert feedback_page.status_code == 200 and "simulated@" in feedback_page.text
    store.close()
