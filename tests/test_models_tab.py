"""The Models tab: every registered model, in words and units a visitor reads, in either language."""

from __future__ import annotations

import html
import re

import pytest

from shared.models_tab import COLUMNS, create_models_demo, models_html, models_json
from shared.registry import specs


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
    assert "needs a download" not in page and "随附：" in page
