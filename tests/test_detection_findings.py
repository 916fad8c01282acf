"""The detection tab's sentences and the README agree with the numbers they stand for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from demos.detection import findings, plots

ROOT = Path(__file__).resolve().parent.parent


def _cell(arm: str, objects: int, mean: float, low: float, high: float, gap: tuple | None = None) -> dict:
    stat = {"mean": mean, "low": low, "high": high, "se": 0.01}
    row = {"arm": arm, "objects": objects, "seeds": [0, 1, 2], "lr": 0.01, "agnostic": stat, "aware": stat,
           "errors": {k: 1.0 for k in ("correct", "duplicate", "wrong_class", "poorly_localised",
                                       "background", "missed")},
           "curve": [{"step": 0, "grad_share_easy_negatives": 0.5},
                     {"step": 500, "grad_share_easy_negatives": 0.2}]}
    if gap is not None:
        row["focal_minus_this"] = {"mean": gap[0], "low": gap[1], "high": gap[2]}
    return row


SYNTHETIC = {"runs": 9, "tuning": [], "levels": [{"objects": 1, "bg_per_fg_anchor": 1810.0}],
             "cells": [_cell("focal", 1, 0.60, 0.58, 0.62),
                       _cell("ce", 1, 0.55, 0.53, 0.57, gap=(0.05, 0.02, 0.08)),
                       _cell("ohem", 1, 0.61, 0.59, 0.63, gap=(-0.01, -0.03, 0.01))]}


def test_level_sentence_states_each_arm_and_judges_gaps_by_their_interval() -> None:
    text = findings.level_sentence(SYNTHETIC, 1)
    assert "1 : 1,810 foreground : background" in text
    assert "focal loss (γ = 2) 60.0 [58.0, 62.0] (3 seeds)" in text
    assert "focal − α-balanced CE = 5.0 points, focal ahead" in text
    assert "focal − OHEM (paper's) = -1.0 points, focal level (the interval includes 0)" in text
    assert findings.verdict({"mean": -0.05, "low": -0.08, "high": -0.01}) == "behind"


def test_plots_draw_the_cells_the_text_states() -> None:
    fig = plots.ap_vs_imbalance_figure(SYNTHETIC)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["focal loss, γ = 2"].y) == pytest.approx([60.0])
    assert list(by_name["focal loss, γ = 2"].error_y.array) == pytest.approx([2.0])
    assert list(by_name["α-balanced CE"].x) == [1810.0]
    gamma = plots.gamma_figure(SYNTHETIC)
    assert [t.name for t in gamma.data] == ["here: class-agnostic AP", "paper, Table 1b (COCO AP)"]
    assert list(gamma.data[0].x) == [0.0, 2.0]  # ce is gamma 0, focal gamma 2
    share = plots.easy_share_figure(SYNTHETIC)
    assert list(share.data[0].y) == pytest.approx([50.0, 20.0])


def test_the_shipped_summary_is_what_the_report_computes_from_the_results() -> None:
    from demos.detection.report import summarise

    shipped = findings.load_summary()
    fresh = summarise()
    stale = "results/summary.json is stale: run python -m demos.detection.report"
    assert shipped["runs"] == fresh["runs"], stale
    for a, b in zip(shipped["cells"], fresh["cells"], strict=True):
        assert (a["arm"], a["objects"], a["seeds"]) == (b["arm"], b["objects"], b["seeds"])
        assert a["agnostic"]["mean"] == pytest.approx(b["agnostic"]["mean"])
    # Every sentence the tab shows is built from that summary, and the README shows the same.
    from demos.detection.report import readme_block

    assert readme_block(shipped) in (ROOT / "README.md").read_text(), \
        "README's sweep table is stale: run python -m demos.detection.report --readme"


def test_readme_quotes_the_anatomy_default_of_the_tab() -> None:
    from demos.detection import registry  # noqa: F401  (registers the bundled models)
    from demos.detection.anatomy import anatomy_of_terms, val_terms

    an = anatomy_of_terms(val_terms("tiny-retinanet-focal"), 2.0, "val")
    ce, fl = plots.LOSS_NAMES
    readme = (ROOT / "README.md").read_text()
    section = " ".join(readme[readme.index("anatomy of the loss"):].split())  # one line, single spaces
    quoted = re.search(r"hold (\d+) % of α-balanced CE's loss and (\d+) % of its gradient, against "
                       r"([\d.]+) % and ([\d.]+) % for focal loss", section)
    assert quoted, "README's anatomy sentence is missing"
    assert int(quoted[1]) == round(100 * an.easy_negative_loss[ce])
    assert int(quoted[2]) == round(100 * an.easy_negative_grad[ce])
    assert float(quoted[3]) == pytest.approx(100 * an.easy_negative_loss[fl], abs=0.051)
    assert float(quoted[4]) == pytest.approx(100 * an.easy_negative_grad[fl], abs=0.051)


def test_collapsed_tuning_runs_are_named_with_their_rates() -> None:
    tuning = [{"arm": "ohem", "lr": 0.01, "AP": 0.0}, {"arm": "ohem", "lr": 0.005, "AP": 0.3},
              {"arm": "ce", "lr": 0.01, "AP": 0.4}]
    summary = {"cells": [], "tuning": tuning}
    expected = "OHEM (paper's) at 2 objects, 1 of its 2 rates (0.01)."
    assert findings.collapse_sentence(summary).endswith(expected)
    assert "no confident detections" in findings.headline(summary)


def _run(arm: str, objects: int, lr: float, ap: float, split: str = "val", seed: int = 0) -> dict:
    metrics = {kind: {"AP": ap, "AP50": ap, "AP75": ap, "bootstrap_AP": [ap] * 3}
               for kind in ("agnostic", "aware")}
    kinds = ("correct", "duplicate", "wrong_class", "poorly_localised", "background", "missed")
    metrics["errors"] = dict.fromkeys(kinds, 0.0)
    return {"config": {"arm": arm, "objects": objects, "lr": lr, "seed": seed, "eval_split": split},
            "metrics": metrics, "training": {"curve": []}}


def test_a_run_at_another_rate_is_a_check_beside_its_planned_run_not_a_seed_of_the_cell() -> None:
    from demos.detection import report, sweep

    # focal's tuning picks 0.01 (its best rate), so the 0.04 run at 8 objects is a check.
    runs = {sweep._tune_cfg("focal", lr).run_id: _run("focal", 2, lr, ap, split="tune") for lr, ap in
            ((0.005, 0.3), (0.01, 0.5), (0.02, 0.4), (0.04, 0.2))}
    runs |= {"plan": _run("focal", 8, 0.01, 0.49), "check": _run("focal", 8, 0.04, 0.60)}
    cells = report.cells(runs)
    assert [r["config"]["lr"] for r in cells[("focal", 8)]] == [0.01]
    (check,) = report.lr_checks(runs)
    assert (check["lr"], check["AP"], check["plan_lr"], check["plan_AP"]) == (0.04, 0.60, 0.01, 0.49)
    table = findings.checks_markdown({"lr_checks": [check]})
    assert "| focal loss (γ = 2) | 8 | 0.04 | 60.0 | 60.0 | 0.01 | 49.0 | 49.0 |" in table
    assert findings.lr_check_sentence({"lr_checks": [check]}) == ""  # no other arm at this level to pass


def test_each_level_uses_the_rate_tuned_there_once_its_tuning_is_done() -> None:
    from demos.detection import report, sweep

    def tune(arm: str, objects: int, scores: dict[float, float]) -> dict[str, dict]:
        return {sweep._tune_cfg(arm, lr, objects).run_id: _run(arm, objects, lr, ap, split="tune")
                for lr, ap in scores.items()}

    grid = {0.005: 0.3, 0.01: 0.5, 0.02: 0.4, 0.04: 0.2}  # best 0.01, inside the grid
    runs = tune("focal", 2, grid) | tune("ce", 2, grid)
    runs |= {f"{arm}{seed}{lr}": _run(arm, 8, lr, ap + 0.01 * seed, seed=seed)
             for arm, lr, ap in (("focal", 0.01, 0.49), ("ce", 0.01, 0.55), ("focal", 0.02, 0.60))
             for seed in (0, 1)}
    # Tuning at 8 objects unfinished: the cell holds the 2-object rate and says so.
    (cell,) = [c for c in report.summarise_runs(runs)["cells"] if c["arm"] == "focal"]
    assert (cell["lr"], cell["lr_tuned_at"], cell["seeds"]) == (0.01, 2, [0, 1])
    assert sweep.plan_rates(runs)[("focal", 8)] is None
    # Tuned at 8 objects, focal's best there is 0.02: the cell moves to it, 0.01 becomes a check.
    runs |= tune("focal", 8, {0.005: 0.2, 0.01: 0.4, 0.02: 0.6, 0.04: 0.3})
    runs |= tune("ce", 8, {0.005: 0.3, 0.01: 0.5, 0.02: 0.4, 0.04: 0.2})
    summary = report.summarise_runs(runs)
    (cell,) = [c for c in summary["cells"] if c["arm"] == "focal"]
    assert (cell["lr"], cell["lr_tuned_at"]) == (0.02, 8)
    assert [(t["arm"], t["lr"], t["plan_lr"]) for t in summary["lr_checks"]] == [("focal", 0.01, 0.02)]
    (shared,) = summary["shared_rate_gaps"]  # the same comparison at the 2-object rates
    assert shared["objects"] == 8 and shared["seeds"] == [0, 1]
    assert shared["focal_minus_ce"]["mean"] == pytest.approx(0.49 - 0.55)
    sentence = findings.shared_rate_sentence(summary)
    assert "focal − CE was -6.0" in sentence
    assert "at 8 objects (2 seeds; rates tuned at this level: focal 0.02, CE 0.01)" in sentence
    assert "| focal loss (γ = 2) | 8 | 2 | 0.02 (8 objects) |" in findings.table_markdown(summary)


def test_a_check_that_reverses_two_arms_is_said_to() -> None:
    check = {"arm": "focal", "objects": 8, "seed": 0, "lr": 0.04, "AP": 0.60, "aware_AP": 0.45,
             "plan_lr": 0.01, "plan_AP": 0.49, "plan_aware_AP": 0.24}
    cells = [_cell("ce", 8, 0.55, 0.53, 0.57), _cell("ohem", 8, 0.40, 0.38, 0.42)]
    summary = {"lr_checks": [check], "cells": cells}
    (flip,) = findings.order_flips(summary)  # ahead of CE only now; ahead of OHEM either way
    assert flip.startswith("At 8 objects, focal loss (γ = 2) at lr 0.04 (60.0) is ahead of α-balanced CE at "
                           "its rate (55.0):")
    assert flip in findings.lr_check_sentence(summary)
    # CE's own check at a better rate: named, and whether it keeps CE behind.
    summary["lr_checks"].append(check | {"arm": "ce", "lr": 0.08, "AP": 0.58, "plan_AP": 0.55})
    assert "and of its best rate tried there (58.0)" in findings.order_flips(summary)[0]
    summary["lr_checks"][1]["AP"] = 0.62
    assert "though not of its best rate tried there (62.0)" in findings.order_flips(summary)[0]
    del summary["lr_checks"][1]
    check["AP"] = 0.52  # better than the plan, still behind CE
    assert findings.order_flips(summary) == []
    check.update(AP=0.30, plan_AP=0.60)  # a worse rate falling behind says nothing
    assert findings.order_flips(summary) == []


def test_the_best_rate_tried_for_each_arm_is_compared_at_seed_0() -> None:
    focal, ce = _cell("focal", 8, 0.51, 0.40, 0.60), _cell("ce", 8, 0.57, 0.55, 0.59)
    focal["agnostic"]["per_seed"], ce["agnostic"]["per_seed"] = [0.49, 0.52, 0.52], [0.568, 0.58, 0.56]
    checks = [{"arm": "focal", "objects": 8, "seed": 0, "lr": 0.04, "AP": 0.602},
              {"arm": "ce", "objects": 8, "seed": 0, "lr": 0.08, "AP": 0.588},
              {"arm": "ce", "objects": 8, "seed": 1, "lr": 0.08, "AP": 0.99}]  # another seed: not compared
    sentence = findings.best_rates_sentence({"cells": [focal, ce], "lr_checks": checks})
    assert sentence == ("At the best rate tried for each arm (seed 0): at 8 objects, focal loss (γ = 2) 60.2 "
                        "(lr 0.04, of 2 tried), α-balanced CE 58.8 (lr 0.08, of 2 tried).")


def _numbers(text: str) -> list[str]:
    return sorted(re.findall(r"-?\d[\d,.]*\d|-?\d", text))


def test_the_findings_in_chinese_state_every_number_of_the_english() -> None:
    """The Chinese templates keep each number and leave no English word but names and metrics."""
    check = {"arm": "focal", "objects": 8, "seed": 0, "lr": 0.04, "AP": 0.60, "aware_AP": 0.45,
             "plan_lr": 0.01, "plan_AP": 0.49, "plan_aware_AP": 0.24}
    shared = {"objects": 8, "rates": {"focal": 0.01, "ce": 0.04}, "own_rates": {"focal": 0.02, "ce": None},
              "seeds": [0, 1], "focal_minus_ce": {"mean": -0.06, "low": -0.1, "high": -0.02}}
    collapsed = {"cells": [], "tuning": [{"arm": "ohem", "lr": 0.01, "AP": 0.0}]}
    summaries = [findings.load_summary(), SYNTHETIC, collapsed,
                 SYNTHETIC | {"lr_checks": [check, check | {"arm": "ce", "lr": 0.08, "AP": 0.62}],
                              "shared_rate_gaps": [shared]}]
    for summary in summaries:
        for write in (findings.headline, findings.table_markdown, findings.tuning_markdown):
            english, chinese = write(summary), write(summary, "zh-CN")
            assert chinese != english or not english
            assert _numbers(chinese) == _numbers(english), write.__name__
            words = set(re.findall(r"[A-Za-z]{2,}", re.sub(r"`[^`]*`", "", chinese)))
            # Names only: the arms', the dataset's and the cited paper's first author (Lin et al.).
            assert words <= {"AP", "CE", "OHEM", "SSD", "COCO", "Lin"}, (write.__name__, words)


def test_the_paper_comparison_uses_only_levels_tuned_where_measured_and_follows_the_intervals() -> None:
    def level(objects: int, gap: tuple, tuned_at: int) -> list[dict]:
        return [_cell("focal", objects, 0.5, 0.45, 0.55) | {"lr_tuned_at": tuned_at},
                _cell("ce", objects, 0.48, 0.43, 0.53, gap=gap) | {"lr_tuned_at": tuned_at}]

    summary = {"cells": level(8, (0.018, -0.046, 0.082), 8) + level(4, (0.05, 0.01, 0.09), 2)}
    sentence = findings.paper_sentence(summary)
    assert "34.0 against 31.1" in sentence and "1.8 [-4.6, 8.2] points at 8 objects (3 seeds)" in sentence
    assert "4 objects" not in sentence  # its rates were tuned at 2 objects, not where it is measured
    assert "no difference beyond the noise" in sentence
    summary["cells"] += level(1, (0.03, 0.01, 0.05), 1)
    assert findings.paper_sentence(summary).endswith("focal loss ahead beyond the noise at 1 object.")
    zh = findings.paper_sentence(summary, "zh-CN")
    assert "1 个物体时，焦点损失 − CE = 3.0 [1.0, 5.0]" in zh and "领先" in zh
    assert findings.paper_sentence({"cells": level(8, (0.0, -0.1, 0.1), 2)}) == ""


def test_the_ablation_sentence_judges_the_prior_and_gamma_by_their_intervals() -> None:
    ce = _cell("ce", 1, 0.48, 0.45, 0.51, gap=(0.01, -0.03, 0.05))
    cells = [ce, _cell("ce-noprior", 1, 0.30, 0.27, 0.33, gap=(0.19, 0.15, 0.23))]
    sentence = findings.ablation_sentence({"cells": cells})
    assert "α-balanced CE gets 30.0 [27.0, 33.0] at 1 object (3 seeds) against 48.0 [45.0, 51.0]" in sentence
    assert "focal − CE is 19.0 [15.0, 23.0] points without the prior and 1.0 [-3.0, 5.0] with it" in sentence
    assert "the prior is part of why CE keeps up" in sentence
    assert "The γ sweep is still in the plan." in sentence
    cells[1] = _cell("ce-noprior", 1, 0.47, 0.44, 0.50, gap=(0.02, -0.02, 0.06))
    assert "does not change CE's standing" in findings.ablation_sentence({"cells": cells})
    flat = cells + [_cell(arm, 1, 0.49, 0.46, 0.52, gap=(0.0, -0.03, 0.03))
                    for arm in ("focal-g0.5", "focal-g1", "focal-g5")]
    flat.append(_cell("focal", 1, 0.49, 0.46, 0.52))
    sentence = findings.ablation_sentence({"cells": flat})
    assert "γ = 0 48.0 [45.0, 51.0]; γ = 0.5 49.0 [46.0, 52.0]" in sentence
    assert "no rise with γ beyond the noise" in sentence and "still in the plan" not in sentence
    rising = [c for c in flat if c["arm"] != "focal-g5"] + [_cell("focal-g5", 1, 0.60, 0.55, 0.65,
                                                                   gap=(-0.11, -0.15, -0.07))]
    assert "Beyond the noise above γ = 0: γ = 5." in findings.ablation_sentence({"cells": rising})
    one_seed = {"cells": [ce, _cell("ce-noprior", 1, 0.3, 0.2, 0.4, gap=(0.1, 0.0, 0.2)) | {"seeds": [0]}]}
    assert findings.ablation_sentence(one_seed).startswith("The runs that could say why")
    zh = findings.ablation_sentence({"cells": rising}, "zh-CN")
    assert "超出噪声地高于 γ = 0 的：γ = 5。" in zh and _numbers(zh) == _numbers(findings.ablation_sentence(
        {"cells": rising}))
