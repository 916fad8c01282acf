"""The pose tab's accuracy-against-people figure and sentence come from the measured goals file."""

from __future__ import annotations

import re

from conftest import ChineseRequest

from demos.pose import plots


def test_the_figure_plots_the_measured_numbers_and_the_sentence_states_them():
    record, path = plots.load_measured()
    assert path.name in {"goals.json", "baseline.json"}
    table = plots.crowd_table(record)
    assert set(table) == {"tiny-topdown-pose", "tiny-bottomup-pose"}
    fig = plots.accuracy_figure(record)
    for trace in fig.data:
        key = "AP" if trace.xaxis == "x" else "count_right"
        by_crowd = table[trace.name]
        assert list(trace.x) == sorted(by_crowd)
        assert list(trace.y) == [by_crowd[n][key] for n in sorted(by_crowd)]
    sentence = plots.accuracy_sentence(record)
    for name, by_crowd in table.items():
        lo, hi = min(by_crowd), max(by_crowd)
        assert f"`{name}`: AP {by_crowd[lo]['AP']:.2f} with {lo}" in sentence
        assert f"{by_crowd[hi]['AP']:.2f} with {hi}" in sentence
    leaders = re.findall(r"with (\d+) (?:person|people) `([\w-]+)` has the higher AP", sentence,
                         flags=re.IGNORECASE)
    assert len(leaders) == 2
    for n, leader in leaders:
        other = next(m for m in table if m != leader)
        assert table[leader][int(n)]["AP"] >= table[other][int(n)]["AP"]


def test_a_constructed_record_names_the_leader_at_each_end():
    crowd = lambda a, b: {"1": {"AP": a, "count_right": 0.5, "mean_count_error": 0.0, "scenes": 3},  # noqa: E731
                          "6": {"AP": b, "count_right": 0.2, "mean_count_error": 1.0, "scenes": 4}}
    record = {"models": {"top": {"by_crowd": crowd(0.8, 0.3)}, "bottom": {"by_crowd": crowd(0.6, 0.5)}}}
    sentence = plots.accuracy_sentence(record)
    assert "With 1 person `top` has the higher AP, and with 6 people `bottom` has the higher AP." in sentence


def test_the_sentence_in_chinese_states_the_same_numbers():
    import app
    from demos.pose.ui import accuracy_view

    app.build_app(["pose"])

    record, _ = plots.load_measured()
    fig, text = accuracy_view(ChineseRequest())
    assert fig.layout.annotations[0].text == "关键点 AP（OKS）"
    for name, by_crowd in plots.crowd_table(record).items():
        lo, hi = min(by_crowd), max(by_crowd)
        few, many = by_crowd[lo]["AP"], by_crowd[hi]["AP"]
        assert f"`{name}`：{lo} 人时 AP 为 {few:.2f}，{hi} 人时为 {many:.2f}" in text
    assert not re.search(r"\b(with|people|person|scenes)\b", text)
