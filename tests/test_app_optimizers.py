"""The optimizer playground end to end: the real app, called with gradio_client."""

from __future__ import annotations

import json
import math

import pytest
from conftest import raw_call
from gradio_client.exceptions import AppError


def test_models_endpoint_lists_the_registry(client):
    rows = client.predict(api_name="/models")
    assert isinstance(rows, list)
    for row in rows:
        assert {"name", "tier", "source", "size_mb", "usable", "status"} <= set(row)


def test_optimize_returns_plots_table_and_json(client):
    contour, surface3d, loss, table, data = client.predict(
        surface="Rosenbrock", optimizers=["SGD", "Adam", "NAdam"], lr=0.001, steps=300,
        x0=-1.5, y0=2.0, api_name="/optimize",
    )
    assert [r["optimizer"] for r in data["results"]] == ["SGD", "Adam", "NAdam"]
    assert len(table["data"]) == 3
    for traj in data["trajectories"]:
        assert all(math.isfinite(v) for v in traj["x"] + traj["y"] + traj["loss"])
    for plot in (contour, surface3d, loss):
        assert plot and plot.get("plot")


def test_optimize_is_deterministic_for_a_seed(client):
    kwargs = dict(surface="Himmelblau", optimizers=["SGD"], lr=0.01, steps=100, x0=0.0, y0=0.0,
                  noise=1.0, seed=3, api_name="/optimize")
    first = client.predict(**kwargs)[4]
    again = client.predict(**kwargs)[4]
    other = client.predict(**{**kwargs, "seed": 4})[4]
    assert first["results"] == again["results"]
    assert first["results"] != other["results"]


def test_diverging_run_is_marked_and_json_stays_finite(client):
    data = client.predict(surface="Rosenbrock", optimizers=["SGD", "Adam"], lr=1.0, steps=200,
                          x0=-1.5, y0=2.0, api_name="/optimize")[4]
    sgd, adam = data["results"]
    assert sgd["diverged"] and sgd["diverged_at"] is not None
    for traj in data["trajectories"]:
        assert all(math.isfinite(v) for v in traj["x"] + traj["y"] + traj["loss"])


def test_step_view_explains_one_update(client):
    fig, text = client.predict(surface="Rosenbrock", optimizer="Adam", step=5, lr=0.01, steps=50,
                               x0=-1.5, y0=2.0, api_name="/step_view")
    assert fig.get("plot") and "Adam, step 5" in text and "gradient" in text


def test_batch_modes(client):
    path, per_epoch, per_eval, table, data = client.predict(
        model="linear", n_samples=128, batch_size=16, epochs=5, lr=0.05, seed=1,
        api_name="/batch_modes",
    )
    modes = {row["mode"]: row for row in data["modes"]}
    assert modes["SGD"]["updates_per_epoch"] == 128
    assert modes["mini-batch"]["updates_per_epoch"] == 8
    assert modes["batch GD"]["updates_per_epoch"] == 1


BAD_OPTIMIZE = [
    (dict(lr=-0.1), "learning rate"),
    (dict(lr=0.0), "learning rate"),
    (dict(steps=0), "steps"),
    (dict(steps=100000), "steps"),
    (dict(surface="Everest"), "Unknown surface"),
    (dict(optimizers=["SGD", "Lion"]), "Unknown optimizer"),
    (dict(optimizers=[]), "at least one optimizer"),
    (dict(momentum=1.5), "Momentum"),
    (dict(beta2=-1.0), "beta2"),
    (dict(eps=-1e-8), "psilon"),
    (dict(weight_decay=-1.0), "eight decay"),
    (dict(x0=1e9), "start x"),
    (dict(steps=12.5), "steps"),
]


@pytest.mark.parametrize(("change", "message"), BAD_OPTIMIZE)
def test_bad_optimize_inputs_get_plain_errors(client, change, message):
    kwargs = dict(surface="Rosenbrock", optimizers=["SGD"], lr=0.001, steps=50, x0=-1.5, y0=2.0)
    kwargs.update(change)
    with pytest.raises(AppError, match=message):
        client.predict(**kwargs, api_name="/optimize")


@pytest.mark.parametrize(
    ("change", "message"),
    [(dict(lr=-1.0), "learning rate"), (dict(batch_size=0), "batch"),
     (dict(model="quadratic"), "model"), (dict(epochs=-3), "epochs")],
)
def test_bad_batch_mode_inputs_get_plain_errors(client, change, message):
    kwargs = dict(model="linear", n_samples=64, batch_size=8, epochs=3, lr=0.05, seed=0)
    kwargs.update(change)
    with pytest.raises(AppError, match=message):
        client.predict(**kwargs, api_name="/batch_modes")
    # and the server still answers afterwards
    assert client.predict(api_name="/models") is not None


# The order of /optimize's inputs: surface, optimizers, lr, steps, x0, y0, momentum,
# beta1, beta2, rho, alpha, eps, weight_decay, noise, seed, condition, adadelta_lr.
OPTIMIZE_ARGS = ["Rosenbrock", ["SGD"], 0.001, 50, -1.5, 2.0, 0.9, 0.9, 0.999, 0.9, 0.99,
                 None, 0.0, 0.0, 0, 10.0, 1.0]


@pytest.mark.parametrize(("index", "value", "message"), [
    (2, "NaN", "learning rate"), (2, "Infinity", "learning rate"), (2, "-Infinity", "learning rate"),
    (4, "NaN", "start x"), (12, "NaN", "eight decay"), (7, "Infinity", "beta1"),
    (11, "NaN", "psilon"), (15, "NaN", "condition"),
])
def test_non_finite_numbers_from_a_raw_client(app_url, client, index, value, message):
    args = [json.dumps(a) for a in OPTIMIZE_ARGS]
    args[index] = value  # not valid strict JSON, but accepted by Python's parser
    event, data = raw_call(app_url, "optimize", '{"data": [' + ", ".join(args) + "]}")
    assert event == "error" and message in data
    assert client.predict(api_name="/models") is not None


def test_each_optimizer_can_have_its_own_learning_rate(client):
    kwargs = dict(surface="Beale", optimizers=["SGD", "Adam"], steps=100, x0=0.5, y0=-1.5,
                  api_name="/optimize")
    shared = client.predict(lr=0.01, **kwargs)
    own = client.predict(lr={"SGD": 0.01, "Adam": 0.1}, **kwargs)
    (sgd_shared, adam_shared), (sgd_own, adam_own) = shared[4]["results"], own[4]["results"]
    assert (sgd_shared["lr"], adam_shared["lr"], adam_own["lr"]) == (0.01, 0.01, 0.1)
    assert sgd_own == sgd_shared and adam_own["final_x"] != adam_shared["final_x"]
    assert [row[1] for row in own[3]["data"]] == ["0.01", "0.1"]  # the table shows each one's rate


@pytest.mark.parametrize(("lr", "message"), [
    ({"SGD": 0.01}, "No learning rate for Adam"), ({"SGD": 0.01, "Adam": -1.0}, "learning rate of Adam"),
    ({"SGD": 0.01, "Adam": 0.1, "Lion": 0.1}, "Unknown optimizer"), ("fast", "learning rate"),
])
def test_bad_own_learning_rates_get_plain_errors(client, lr, message):
    with pytest.raises(AppError, match=message):
        client.predict(surface="Beale", optimizers=["SGD", "Adam"], lr=lr, steps=20, api_name="/optimize")


def test_best_learning_rates_endpoint_matches_the_search(client):
    from demos.optimizers import tuning
    from demos.optimizers.optimizers import Hyper
    from demos.optimizers.surfaces import get_surface

    note, data = client.predict(surface="Beale", optimizers=["SGD", "Adam"], lr=0.001, steps=300, x0=0.5,
                                y0=-1.5, api_name="/best_learning_rates")
    beale = get_surface("Beale")
    expected = {p.optimizer: p.lr for p in tuning.best_learning_rates(beale, ["SGD", "Adam"], 0.5, -1.5, 300,
                                                                       Hyper(lr=0.001))}
    assert data["picked"] == expected and expected["SGD"] != expected["Adam"]
    assert all(f"{name} {lr:g}" in note for name, lr in expected.items())
    # The picks are rates /optimize accepts as they are.
    results = client.predict(surface="Beale", optimizers=["SGD", "Adam"], lr=data["picked"], steps=300,
                             x0=0.5, y0=-1.5, api_name="/optimize")[4]["results"]
    assert [r["lr"] for r in results] == [expected["SGD"], expected["Adam"]]


def test_texts_follow_the_requests_language(app_url, client):
    from gradio_client import Client

    kwargs = dict(surface="Saddle", optimizers=["SGD"], lr=0.1, steps=20, x0=2.0, y0=0.01,
                  api_name="/optimize")
    english = client.predict(**kwargs)[3]["headers"]
    chinese = Client(app_url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).predict(**kwargs)
    assert english[0] == "optimizer" and chinese[3]["headers"][0] == "优化器"
    assert "鞍点" in json.loads(chinese[0]["plot"])["layout"]["title"]["text"]
    # The page's own choice (Settings -> Language) travels as a cookie and wins over the header.
    chosen = Client(app_url, verbose=False, headers={"Accept-Language": "zh-CN",
                                                     "Cookie": "visionlab-language=en"}).predict(**kwargs)
    assert chosen[3]["headers"] == english
