"""``report.html`` (what the plan does, with tables and inline SVG charts) and ``report.xlsx``.

The report reads whatever stages the run produced and skips what is absent: a summary of the inputs
and stages, then each stage renderer's section (:data:`maps.stages.STAGES`, in that order), then the
files written. A table lacking an expected column is shown with what it has, and the gap is noted.
No script and no external resource: the page opens anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from geo.errors import Shortfall
from maps.charts import short_label
from maps.common import ReportParams, stage_path
from maps.labels import Language, t
from maps.stages import STAGES
from maps.tables import esc, figure_name, flatten, is_num, pick, text
from planning.app.stage import SHORTFALLS_FILE, RunResult

#: A stage's one-line summary is cut here (display units); its files hold the detail.
MAX_SUMMARY_CHARS = 600

CSS = """
body { font: 14px/1.5 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Helvetica Neue",Arial,sans-serif;
  color: #222; max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 24px; border-bottom: 3px solid #4e79a7; padding-bottom: 6px; }
h2 { font-size: 19px; margin-top: 32px; border-left: 5px solid #4e79a7; padding-left: 8px; }
h3 { font-size: 15px; margin-top: 20px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d0d4da; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdecea; }
.note { color: #666; font-size: 12px; } .warnings li { color: #8a5300; }
.ok { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
@media print { nav { display: none; } details > .tw { display: block; } h2 { break-before: auto; } figure, table { break-inside: avoid; } }
nav a { margin-right: 12px; } .tw { overflow-x: auto; max-width: 100%; }
details { margin: 6px 0 12px; } summary { cursor: pointer; color: #1f5f9f; } figure { margin: 8px 0; } .files li { font-family: monospace; }
"""

_TEXT: Mapping[str, tuple[str, str]] = {
    "report": ("规划报告", "Planning report"),
    "summary": ("概况", "Summary"),
    "scenario": ("方案", "Scenario"),
    "seed": ("随机种子", "Seed"),
    "stages_run": ("已运行的环节", "Stages run"),
    "inputs": ("输入数据", "Inputs"),
    "input_warnings": ("输入数据提示（请核对）", "Input warnings (please check)"),
    "schools": ("学校", "Schools"),
    "blocks": ("居住区（小区/村）", "Residential units"),
    "teachers": ("教师", "Teachers"),
    "children": ("{level}适龄儿童", "{level}-age children"),
    "files": ("地图与数据文件", "Maps and data files"),
    "maps": ("地图", "Maps"),
    "none_ran": ("本次运行没有规划环节的结果。", "This run has no stage results."),
    "passes": ("达标", "passes"),
    "fails": ("未达标", "fails"),
    "tables": ("表格", "Tables"),
    "shortfalls": ("未达成的政策目标", "Targets not met"),
    "shortfalls_none": ("各环节均达成其政策目标。", "Every stage met its policy targets."),
    "shortfalls_none_finished": ("已完成的环节均达成其政策目标。", "The stages that finished met their policy targets."),
    "shortfalls_stage": (
        "{stage}：{n} 项目标未能完全达成（方案已尽量满足，全部列于 {file}）",
        "{stage}: {n} target(s) met only in part (the plan meets them as far as possible; all in {file})",
    ),
    "shortfalls_more": ("另有 {n} 项，见 {file}。", "{n} more in {file}."),
    "where": ("位置", "Where"),
    "short_by": ("缺口", "Short by"),
    "unit": ("单位", "Unit"),
    "detail": ("说明", "Detail"),
    "failed": ("未完成的环节", "Stage that did not finish"),
    "failed_infeasible": (
        "环节“{stage}”无法形成方案，运行在此停止：",
        "Stage “{stage}” could not make a plan; the run stopped there:",
    ),
    "failed_solver": ("环节“{stage}”的求解器运行失败，运行在此停止：", "The solver failed in stage “{stage}”; the run stopped there:"),
    "failed_hint": ("可调整：{hint}", "What to change: {hint}"),
    "failed_finished": (
        "已完成并输出的环节：{done}。未运行的环节：{not_run}。",
        "Stages finished and written: {done}. Stages not run: {not_run}.",
    ),
}

#: Shortfalls shown per stage in the report; the rest are in ``<stage>/shortfalls.csv``.
MAX_SHORTFALL_ROWS = 30

#: Chinese for the units stages give their shortfalls in (others are shown as given).
_UNITS_ZH: Mapping[str, str] = {
    "seats": "个学位", "students": "名学生", "pupils": "名学生", "children": "名儿童", "teachers": "名教师",
    "movers": "名交流教师", "backbone movers": "名骨干交流教师",
    "schools": "所学校", "members": "所成员校", "leads": "所牵头校", "minutes": "分钟", "groups": "个共同体",
}


def _t(key: str, lang: Language, **fmt: Any) -> str:
    return text(_TEXT, key, lang, **fmt)


def _summary(run: RunResult, lang: Language) -> str:
    inputs = run.inputs
    rows = [(_t("scenario", lang), run.scenario.name), (_t("seed", lang), run.scenario.seed)]
    rows.append((_t("stages_run", lang), ", ".join(run.outputs) or "–"))
    s = inputs.schools
    if s is not None:
        by_level = s["level"].astype(str).value_counts().sort_index() if "level" in s.columns else pd.Series(dtype=int)
        detail = ", ".join(f"{t(k, lang)} {v}" for k, v in by_level.items())
        rows.append((_t("schools", lang), f"{len(s)} ({detail})" if detail else len(s)))
    b = inputs.blocks
    if b is not None:
        rows.append((_t("blocks", lang), f"{len(b):,}"))
        for lv in ("primary", "junior"):
            col = f"students_{lv}"
            if col in b.columns:
                rows.append((_t("children", lang, level=t(lv, lang)), f"{int(pd.to_numeric(b[col], errors='coerce').fillna(0).sum()):,}"))
    if inputs.teachers is not None:
        rows.append((_t("teachers", lang), f"{len(inputs.teachers):,}"))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    out = f"<h2 id=\"summary\">{_t('summary', lang)}</h2><table>{body}</table>"
    if getattr(inputs, "notes", ()):  # assumptions made while loading (a CRS not declared ...): shown where they cannot be missed
        items = "".join(f"<li>{esc(n)}</li>" for n in inputs.notes)
        out += f'<h3>{_t("input_warnings", lang)}</h3><ul class="warnings">{items}</ul>'
    lines = [
        f"<li><b>{esc(name)}</b>: {esc(short_label(' '.join(o.summary.split()), width=MAX_SUMMARY_CHARS))}</li>"
        for name, o in run.outputs.items() if o.summary
    ]
    if lines:
        out += f"<ul>{''.join(lines)}</ul>"
    return out


def _stage_names(lang: Language) -> dict[str, str]:
    return {r.stage: pick(r.heading, lang) for r in STAGES}


def _shortfall_table(shortfalls: Sequence[Shortfall], lang: Language, file: str) -> str:
    """The first :data:`MAX_SHORTFALL_ROWS` shortfalls as a table, with a note on the rest."""
    head = "".join(f"<th>{_t(k, lang)}</th>" for k in ("where", "short_by", "unit", "detail"))
    rows = "".join(
        f'<tr><td>{esc(s.where)}</td><td class="num">{esc(f"{s.short_by:,}")}</td>'
        f"<td>{esc(_UNITS_ZH.get(s.unit, s.unit) if lang == 'zh' else s.unit)}</td><td>{esc(s.detail)}</td></tr>"
        for s in shortfalls[:MAX_SHORTFALL_ROWS]
    )
    more = len(shortfalls) - MAX_SHORTFALL_ROWS
    note = f'<p class="note">{esc(_t("shortfalls_more", lang, n=more, file=file))}</p>' if more > 0 else ""
    return f'<div class="tw"><table><tr>{head}</tr>{rows}</table></div>{note}'


def _failure(run: RunResult, lang: Language) -> str:
    """Which stage stopped the run, its message, its shortfalls and what to change; empty when none did."""
    failed = run.failed
    if failed is None:
        return ""
    names = _stage_names(lang)
    stage = names.get(failed.stage, failed.stage)
    lead = _t("failed_solver" if failed.kind == "solver" else "failed_infeasible", lang, stage=stage)
    out = f'<h2 id="failed">{_t("failed", lang)}</h2><p class="fail">{esc(lead)}</p><p>{esc(failed.message)}</p>'
    if failed.shortfalls:
        out += _shortfall_table(failed.shortfalls, lang, stage_path(failed.stage, SHORTFALLS_FILE))
    if failed.hint:
        out += f"<p>{esc(_t('failed_hint', lang, hint=failed.hint))}</p>"
    done = ", ".join(names.get(n, n) for n in run.outputs) or "–"
    not_run = ", ".join(names.get(n, n) for n in failed.not_run) or "–"
    return out + f'<p class="note">{esc(_t("failed_finished", lang, done=done, not_run=not_run))}</p>'


def _shortfalls(run: RunResult, lang: Language) -> str:
    """Per stage, the policy targets its plan meets only in part, with their numbers."""
    if not run.outputs:
        return ""
    names = _stage_names(lang)
    parts = []
    for stage, out in run.outputs.items():
        if out.shortfalls:
            file = stage_path(stage, SHORTFALLS_FILE)
            title = _t("shortfalls_stage", lang, stage=names.get(stage, stage), n=len(out.shortfalls), file=file)
            parts.append(f"<h3>{esc(title)}</h3>{_shortfall_table(out.shortfalls, lang, file)}")
    none = "shortfalls_none" if run.failed is None else "shortfalls_none_finished"
    body = "".join(parts) or f'<p class="ok">{_t(none, lang)}</p>'
    return f'<h2 id="shortfalls">{_t("shortfalls", lang)}</h2>{body}'


def _files(run: RunResult, lang: Language, maps: Sequence[str]) -> str:
    items = [f'<li><a href="{esc(p)}">{esc(p)}</a></li>' for p in maps]
    for stage, out in run.outputs.items():
        for rel in sorted(out.files):
            path = stage_path(stage, rel)
            items.append(f'<li><a href="{esc(path)}">{esc(path)}</a></li>')
        if out.shortfalls:
            path = stage_path(stage, SHORTFALLS_FILE)
            items.append(f'<li><a href="{esc(path)}">{esc(path)}</a></li>')
    if run.failed is not None and run.failed.shortfalls:
        path = stage_path(run.failed.stage, SHORTFALLS_FILE)
        items.append(f'<li><a href="{esc(path)}">{esc(path)}</a></li>')
    items.append('<li><a href="report.xlsx">report.xlsx</a></li>')
    return f"<h2 id=\"files\">{_t('files', lang)}</h2><ul class=\"files\">{''.join(items)}</ul>"


def build_report(run: RunResult, params: ReportParams, *, maps: Sequence[str] = ("map.html",)) -> str:
    """The planning report as one self-contained HTML page (no script, inline SVG charts).

    Parameters
    ----------
    run
        What the run made.
    params
        Report settings (language, title).
    maps
        Relative paths of the maps written beside the report, linked at the top.

    Returns
    -------
    str
        HTML; byte-identical for the same run and settings.
    """
    lang = params.language
    title = f"{params.title or run.scenario.name} · {_t('report', lang)}"
    sections = [
        _failure(run, lang), _summary(run, lang), _shortfalls(run, lang),
        *(r.section(run, params) for r in STAGES if r.section is not None),
    ]
    body = "".join(sections)
    if not run.outputs:
        body += f"<p>{_t('none_ran', lang)}</p>"
    entries = [
        ("failed", _t("failed", lang)), ("summary", _t("summary", lang)), ("shortfalls", _t("shortfalls", lang)),
        *((r.stage, pick(r.heading, lang)) for r in STAGES if r.section is not None),
        ("files", _t("files", lang)),
    ]
    nav = " ".join(f'<a href="#{i}">{name}</a>' for i, name in entries if f'id="{i}"' in body or i == "files")
    map_links = " ".join(f'<a href="{esc(p)}">{esc(p)}</a>' for p in maps)
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{esc(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<h1>{esc(title)}</h1>\n"
        f"<nav>{nav}</nav>\n<p>{_t('maps', lang)}: {map_links}</p>\n{body}\n{_files(run, lang, maps)}\n</body>\n</html>\n"
    )


def report_tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """The Excel workbook: sheet name → table (the runner writes it deterministically).

    A summary of every figure in the stages' JSON files, then each stage renderer's sheets.
    """
    lang = params.language
    figures = []
    for stage, out in run.outputs.items():
        for rel, payload in sorted(out.files.items()):
            if rel.endswith(".json") and isinstance(payload, Mapping):
                for k, v in flatten(payload).items():
                    figures.append({"stage": stage, "file": rel, "figure": k, "name": figure_name(k, lang),
                                    "value": v if is_num(v) or isinstance(v, (str, bool)) or v is None else str(v)})
    sheets = {("概要" if lang == "zh" else "summary"): pd.DataFrame(figures, columns=["stage", "file", "figure", "name", "value"])}
    listed = [(stage, s) for stage, out in run.outputs.items() for s in out.shortfalls]
    if run.failed is not None:
        listed += [(run.failed.stage, s) for s in run.failed.shortfalls]
    if listed:
        rows = [{"stage": stage, "where": s.where, "short_by": s.short_by, "unit": s.unit, "detail": s.detail} for stage, s in listed]
        sheets["未达成目标" if lang == "zh" else "targets not met"] = pd.DataFrame(rows)
    for renderer in STAGES:
        if renderer.tables is not None:
            sheets.update(renderer.tables(run, params))
    return sheets
