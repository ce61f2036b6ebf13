"""The report lists each stage's targets not met, and explains a stage that stopped the run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from geo.errors import Shortfall
from maps.render import ReportParams, render_run
from maps.report import MAX_SHORTFALL_ROWS, build_report, report_tables
from planning.app.stage import RunResult, StageFailure

QUOTA = Shortfall("城关一小", 3, "teachers", "rotation quota 5, only 2 eligible teachers")


def _with_shortfalls(run: RunResult, stage: str, shortfalls: tuple[Shortfall, ...]) -> RunResult:
    outputs = dict(run.outputs)
    outputs[stage] = dataclasses.replace(outputs[stage], shortfalls=shortfalls)
    return dataclasses.replace(run, outputs=outputs)


@pytest.mark.parametrize(
    ("lang", "heading", "stage_line", "unit"),
    [
        ("zh", "未达成的政策目标", "1 项目标未能完全达成", "名教师"),
        ("en", "Targets not met", "1 target(s) met only in part", "teachers"),
    ],
)
def test_shortfalls_listed_per_stage_with_numbers(
    make_run: Callable[..., RunResult], lang: str, heading: str, stage_line: str, unit: str
) -> None:
    run = _with_shortfalls(make_run(), "rotation", (QUOTA,))
    page = build_report(run, ReportParams(language=lang))
    block = page[page.index(f'<h2 id="shortfalls">{heading}</h2>') :]
    block = block[: block.index("<h2", 5)]
    assert stage_line in block and "rotation/shortfalls.csv" in block
    assert "<td>城关一小</td>" in block and '<td class="num">3</td>' in block and f"<td>{unit}</td>" in block
    assert "only 2 eligible teachers" in block
    assert f'href="#shortfalls">{heading}</a>' in page  # in the navigation
    assert '<a href="rotation/shortfalls.csv">' in page  # and among the files
    sheets = report_tables(run, ReportParams(language=lang))
    sheet = sheets["未达成目标" if lang == "zh" else "targets not met"]
    stage = "教师交流轮岗" if lang == "zh" else "Teacher rotation"
    assert sheet.to_numpy().tolist() == [[stage, "城关一小", 3, unit, "rotation quota 5, only 2 eligible teachers"]]


def test_no_shortfalls_says_every_target_met(make_run: Callable[..., RunResult]) -> None:
    page = build_report(make_run(), ReportParams(language="en"))
    assert "Every stage met its policy targets." in page
    assert "targets not met" not in report_tables(make_run(), ReportParams(language="en"))


def test_long_lists_are_cut_with_a_pointer_to_the_file(make_run: Callable[..., RunResult]) -> None:
    many = tuple(Shortfall(f"村{k}", k + 1, "seats") for k in range(MAX_SHORTFALL_ROWS + 4))
    page = build_report(_with_shortfalls(make_run(), "zones", many), ReportParams(language="en"))
    assert f"<td>村{MAX_SHORTFALL_ROWS - 1}</td>" in page and f"<td>村{MAX_SHORTFALL_ROWS}</td>" not in page
    assert "4 more in zones/shortfalls.csv." in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_failed_stage_explained_and_the_finished_ones_still_reported(make_run: Callable[..., RunResult], lang: str) -> None:
    run = make_run(stages=("zones", "balance"))
    failed = StageFailure("communities", "infeasible", "no grouping satisfies the size bounds", (QUOTA,), "raise max_travel_s",
                          not_run=("rotation",))
    files = render_run(dataclasses.replace(run, failed=failed), ReportParams(language=lang))
    page = files["report.html"]
    lead = "环节“学校共同体" if lang == "zh" else "Stage “"
    failure = page[page.index('<h2 id="failed">') : page.index('<h2 id="summary">')]
    assert lead in failure and "no grouping satisfies the size bounds" in failure
    assert "<td>城关一小</td>" in failure and "raise max_travel_s" in failure
    assert ("未运行的环节" if lang == "zh" else "Stages not run") in failure
    assert '<h2 id="zones">' in page and '<h2 id="balance">' in page  # the finished stages keep their sections
    assert '<a href="communities/shortfalls.csv">' in page
    finished = "已完成的环节均达成其政策目标。" if lang == "zh" else "The stages that finished met their policy targets."
    assert finished in page  # not "every stage": one did not finish
    assert "map.html" in files
