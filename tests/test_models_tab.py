"""The Models tab: every registered model, in words and units a visitor reads, in either language."""

from __future__ import annotations

import html
import re

import pytest

from shared.models_tab import COLUMNS, create_models_demo, models_html, models_json
from shared.registry import PHRASES, ModelSpec, get_spec, phrase, specs

CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@pytest.fixture(scope="module")
def rows():
    import app  # noqa: F401  (importing the suite registers every tab's models)

    app.build_app()
    create_models_demo()  # registers the tab's texts
    return models_json()


def _cells(page: str) -> list[list[str]]:
    found = re.findall(r"<tr>(.*?)</tr>", page)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r)]
            for r in found]


def test_every_model_is_listed_once_bundled_first_with_words_not_raw_values(rows):
    page = models_html(rows)
    table = _cells(page)
    headers = [r for r in table if r[0] == "Model"]
    assert len(headers) == 2 and headers[0] == [english for _, english in COLUMNS]
    assert "Size (MB)" in headers[0]
    listed = [r[0] for r in table if r[0] != "Model"]
    assert sorted(listed) == sorted(s.name for s in specs())
    assert page.index("Bundled:") < page.index("Pretrained:")
    by_name = {r[0]: r for r in table if r[0] != "Model"}
    for row in rows:
        usable = by_name[row["name"]][2]
        assert usable.startswith("yes") if row["usable"] else usable.startswith("no"), (row["name"], usable)
        cells = by_name[row["name"]]
        assert cells[3] == f"{row['size_mb']:.1f}"
        assert cells[4] == row["reference_metric"] and cells[6] == row["licence"]
    assert not re.search(r">(True|False)<", page)


def test_chinese_headers_and_words(rows):
    page = models_html(rows, "zh-CN")
    headers = next(r for r in _cells(page) if r[0] == "模型")
    assert "大小（MB）" in headers
    assert not any(re.search(r"[A-Za-z]{3,}", h) for h in headers if h != "大小（MB）")
    usable = {r[2] for r in _cells(page) if r[0] != "模型"}
    assert usable <= {"是", "是（之前已下载）", "否：需要下载", "否：检查点文件缺失"}, usable
    assert "needs a download" not in page and "内置：" in page


def test_chinese_cells_are_said_from_the_registries_phrases_with_the_same_numbers(rows):
    by_name = {r[0]: r for r in _cells(models_html(rows, "zh-CN")) if r[0] != "模型"}
    said = 0
    for row in rows:
        cells, spec = by_name[row["name"]], get_spec(row["name"])
        for field, column in (("reference_metric", 4), ("licence", 6)):
            english, chinese = row[field], cells[column]
            if field in spec.phrases:  # written from a template: said again from its translation
                said += 1
                assert CJK.search(chinese) and english != chinese, (row["name"], chinese)
                assert sorted(NUMBER.findall(chinese)) == sorted(NUMBER.findall(english)), (english, chinese)
            else:  # a licence's name ("MIT", "BSD-3-Clause (torchvision)"): as the registry wrote it
                assert chinese == english
        assert cells[1] != row["demo"] and CJK.search(cells[1])  # the tab's title, not its name
    assert said > len(rows)  # every reference metric, and a licence


def test_every_phrase_has_its_translation_with_the_same_places():
    from shared.i18n import ZH

    assert {"detection.bundled_ap", "cyclegan.bundled_metric", "pose.openpose_licence"} <= set(PHRASES)
    for key, english in PHRASES.items():
        chinese = ZH[f"models.phrase.{key}"]
        assert sorted(re.findall(r"\[\w+\]", chinese)) == sorted(re.findall(r"\[\w+\]", english)), key


def test_a_field_must_be_its_phrase():
    model = dict(name="x", demo="detection", task="t", tier="bundled", weights=None, build=dict, size_mb=1,
                 licence="MIT")
    written = phrase("detection.bundled_ap", ap="58.1")
    assert ModelSpec(**model, phrases={"reference_metric": written}).reference_metric == \
        "AP 58.1 on generated val scenes (measured here)"
    with pytest.raises(ValueError, match="is not its phrase"):
        ModelSpec(**model, reference_metric="AP 60.0 on generated val scenes (measured here)",
                  phrases={"reference_metric": written})


def test_a_kept_serving_verdict_is_said_in_chinese(rows, monkeypatch, tmp_path):
    from shared import acceleration as serving

    monkeypatch.setenv("VISIONLAB_ACCELERATION_DIR", str(tmp_path))
    path = "bf16 autocast + channels-last"
    chosen = [{"name": path, "max_rel": 0.0012, "speedup": 1.6, "outcome": "chosen"}]
    serving._write_verdict("ssd300_vgg16|abc", serving.Verdict(path, tried=chosen, date="2026-12-01"))
    refused = [{"name": "channels-last (fp32)", "max_rel": 2e-7, "speedup": 1.02,
                "outcome": "not faster (1.02×)"}]
    serving._write_verdict("keypointrcnn_resnet50_fpn|abc",
                           serving.Verdict(serving.EAGER, tried=refused, date="2026-12-01"))
    fresh = models_json()
    served = {r[0]: r[5] for r in _cells(models_html(fresh, "zh-CN")) if r[0] != "模型"}
    english = {r["name"]: r["acceleration"] for r in fresh}
    assert english["ssd300_vgg16"].startswith(f"{path} (checked 2026-12-01")  # the API's words
    assert served["ssd300_vgg16"] == (f"{path}（2026-12-01 检查：输出与 fp32 的差在其最大值的 0.0012 以内，"
                                      "上限 0.05；快 1.6×）")
    assert served["keypointrcnn_resnet50_fpn"] == "fp32 eager（channels-last (fp32)：没有更快（1.02×））"
    assert served["tiny-retinanet-focal"] == "fp32 eager：内置模型按训练和测量时的方式运行"
    assert served["retinanet_resnet50_fpn"] == "在这台机器上首次使用时检查"
