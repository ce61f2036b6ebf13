"""``report.html``, the planning document (方案说明), and ``report.xlsx``.

The document reads whatever stages the run produced and skips what is absent. It opens with what the
plan decides (本方案要点: each stage renderer's :class:`~maps.common.KeyPoints`, warnings where the plan
makes something worse), then the inputs, the targets not met, one section per stage in plain words
(:data:`maps.stages.STAGES`, in that order), a technical appendix (solver status, bound, gap, the road
network) and the files written. Chinese by default, English with ``[report] language = "en"``.
No script and no external resource: the page opens anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from geo.errors import Shortfall
from maps.common import KeyPoints, ReportParams, stage_path
from maps.i18n import display_table
from maps.labels import Language, t
from maps.shortfalls import render as render_shortfall
from maps.stages import STAGES
from maps.tables import FOLD_ROWS, esc, pick, text
from planning.app.stage import SHORTFALLS_FILE, RunResult

CSS = """
body { font: 14px/1.5 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Helvetica Neue",Arial,sans-serif;
  color: #222; max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 24px; border-bottom: 3px solid #4e79a7; padding-bottom: 6px; }
h2 { font-size: 19px; margin-top: 32px; border-left: 5px solid #4e79a7; padding-left: 8px; }
h3 { font-size: 15px; margin-top: 20px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d0d4da; padding: 3px 8px; text-align: left; vertical-align: top; min-width: 3.5em; }
th { word-break: keep-all; }  /* a CJK header or word is not cut to one character a line beside a long text column */
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdecea; }
.note { color: #666; font-size: 12px; } .warnings li { color: #8a5300; }
.ok { color: #1a7f37; font-weight: bold; } ul.points li { margin: 3px 0; } li.warn { color: #8a5300; }
.keypoints { background: #f5f8fc; border: 1px solid #d0dbe8; padding: 4px 18px 10px; } .fail { color: #c62828; font-weight: bold; }
@media print { nav { display: none; } details > .tw { display: block; } h2 { break-before: auto; } figure, table { break-inside: avoid; } }
nav a { margin-right: 12px; } .tw { overflow-x: auto; max-width: 100%; }
details { margin: 6px 0 12px; } summary { cursor: pointer; color: #1f5f9f; } figure { margin: 8px 0; } .files li { font-family: monospace; }
"""

_TEXT: Mapping[str, tuple[str, str]] = {
    "report": ("方案说明", "Planning document"),
    "keypoints": ("本方案要点", "What the plan decides"),
    "keypoints_warn": ("需要注意", "Please note"),
    "appendix": ("附录：技术指标", "Appendix: technical figures"),
    "appendix_note": (
        "优化模型给出方案的目标值、下界和最优间隙（间隙越小，方案越接近理论最优）；时间单位为分钟。",
        "The optimization models report each plan's objective, a lower bound and the gap between them "
        "(the smaller the gap, the closer to the best possible plan); times in minutes.",
    ),
    "item": ("项目", "Item"),
    "content": ("内容", "Content"),
    "point": ("要点", "Decision"),
    "warning": ("注意", "Warning"),
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
    "show_rows": ("展开列表（{n} 项）", "Show the list ({n})"),
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



def _t(key: str, lang: Language, **fmt: Any) -> str:
    return text(_TEXT, key, lang, **fmt)


def _summary_rows(run: RunResult, lang: Language) -> list[tuple[str, Any]]:
    """(item, value) rows on the scenario and its inputs."""
    inputs = run.inputs
    rows = [(_t("scenario", lang), run.scenario.name), (_t("seed", lang), run.scenario.seed)]
    names = _stage_names(lang)
    rows.append((_t("stages_run", lang), "、".join(names.get(n, n) for n in run.outputs) or "–"))
    s = inputs.schools
    if s is not None:
        counts = s["level"].astype(str).value_counts() if "level" in s.columns else pd.Series(dtype=int)
        order = sorted(counts.index, key=lambda k: ("primary", "junior", "nine_year", k).index(k))
        detail = ("、" if lang == "zh" else ", ").join(f"{t(k, lang)} {counts[k]}" for k in order)
        total = f"{len(s)} 所" if lang == "zh" else f"{len(s)}"
        rows.append((_t("schools", lang), (f"{total}（{detail}）" if lang == "zh" else f"{total} ({detail})") if detail else total))
    b = inputs.blocks
    if b is not None:
        rows.append((_t("blocks", lang), f"{len(b):,}"))
        for lv in ("primary", "junior"):
            col = f"students_{lv}"
            if col in b.columns:
                rows.append((_t("children", lang, level=t(lv, lang)), f"{int(pd.to_numeric(b[col], errors='coerce').fillna(0).sum()):,}"))
    if inputs.teachers is not None:
        rows.append((_t("teachers", lang), f"{len(inputs.teachers):,}"))
    return rows


def _summary(run: RunResult, lang: Language) -> str:
    inputs = run.inputs
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _summary_rows(run, lang))
    out = f"<h2 id=\"summary\">{_t('summary', lang)}</h2><table>{body}</table>"
    if getattr(inputs, "notes", ()):  # assumptions made while loading (a CRS not declared ...): shown where they cannot be missed
        items = "".join(f"<li>{esc(n)}</li>" for n in inputs.notes)
        out += f'<h3>{_t("input_warnings", lang)}</h3><ul class="warnings">{items}</ul>'
    return out


def _key_points(run: RunResult, params: ReportParams) -> list[tuple[str, KeyPoints]]:
    """Each stage's key points, (heading, points) for the stages that have some."""
    out = []
    for r in STAGES:
        if r.key_points is not None and r.stage in run.outputs:
            kp = r.key_points(run, params)
            if kp.points or kp.warnings:
                out.append((pick(r.heading, params.language), kp))
    return out


def _key_points_section(run: RunResult, params: ReportParams) -> str:
    """本方案要点: what each stage's plan decides, then everything it makes worse or leaves undone."""
    lang = params.language
    found = _key_points(run, params)
    if not found:
        return ""
    items = "".join(
        f"<li><b>{esc(heading)}</b><ul class=\"points\">{''.join(f'<li>{esc(p)}</li>' for p in kp.points)}</ul></li>"
        for heading, kp in found if kp.points
    )
    warnings = [w for _, kp in found for w in kp.warnings]
    warn = ""
    if warnings:
        warn = f"<p><b>{_t('keypoints_warn', lang)}</b></p><ul class=\"points\">" + "".join(
            f'<li class="warn">⚠ {esc(w)}</li>' for w in warnings) + "</ul>"
    return f'<div class="keypoints"><h2 id="keypoints">{_t("keypoints", lang)}</h2><ul>{items}</ul>{warn}</div>'


def _appendix(run: RunResult, params: ReportParams) -> str:
    """The technical figures of every stage (solver status, bound, gap; the road network)."""
    lang = params.language
    body = "".join(r.appendix(run, params) for r in STAGES if r.appendix is not None)
    if not body:
        return ""
    return f'<h2 id="appendix">{_t("appendix", lang)}</h2><p class="note">{_t("appendix_note", lang)}</p>{body}'


def _stage_names(lang: Language) -> dict[str, str]:
    return {r.stage: pick(r.heading, lang) for r in STAGES}


def _shortfall_table(shortfalls: Sequence[Shortfall], lang: Language, file: str) -> str:
    """The first :data:`MAX_SHORTFALL_ROWS` shortfalls as a table, with a note on the rest."""
    head = "".join(f"<th>{_t(k, lang)}</th>" for k in ("where", "short_by", "unit", "detail"))
    rows = "".join(
        f'<tr><td>{esc(where)}</td><td class="num">{esc(f"{s.short_by:,}")}</td><td>{esc(unit)}</td><td>{esc(detail)}</td></tr>'
        for s in shortfalls[:MAX_SHORTFALL_ROWS]
        for where, unit, detail in [render_shortfall(s, lang)]
    )
    more = len(shortfalls) - MAX_SHORTFALL_ROWS
    note = f'<p class="note">{esc(_t("shortfalls_more", lang, n=more, file=file))}</p>' if more > 0 else ""
    table = f'<div class="tw"><table><tr>{head}</tr>{rows}</table></div>{note}'
    if len(shortfalls) > FOLD_ROWS:  # a long list starts folded: the key points already say how many
        return f"<details><summary>{esc(_t('show_rows', lang, n=len(shortfalls)))}</summary>{table}</details>"
    return table


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
        _failure(run, lang), _key_points_section(run, params), _summary(run, lang), _shortfalls(run, lang),
        *(r.section(run, params) for r in STAGES if r.section is not None),
        _appendix(run, params),
    ]
    body = "".join(sections)
    if not run.outputs:
        body += f"<p>{_t('none_ran', lang)}</p>"
    entries = [
        ("failed", _t("failed", lang)), ("keypoints", _t("keypoints", lang)), ("summary", _t("summary", lang)),
        ("shortfalls", _t("shortfalls", lang)),
        *((r.stage, pick(r.heading, lang)) for r in STAGES if r.section is not None),
        ("appendix", _t("appendix", lang)), ("files", _t("files", lang)),
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

    A readable summary first (the scenario and its inputs, then each stage's key points and warnings),
    the targets not met, then each stage renderer's sheets, all with display headers.
    """
    lang = params.language
    overview = _t("summary", lang)
    rows = [(overview, k, str(v)) for k, v in _summary_rows(run, lang)]
    for heading, kp in _key_points(run, params):
        rows += [(heading, _t("point", lang), p) for p in kp.points]
        rows += [(heading, _t("warning", lang), w) for w in kp.warnings]
    cols = [text(_TEXT_XLSX, k, lang) for k in ("part", "item", "content")]
    sheets = {("概要" if lang == "zh" else "summary"): pd.DataFrame(rows, columns=cols)}
    listed = [(stage, s) for stage, out in run.outputs.items() for s in out.shortfalls]
    if run.failed is not None:
        listed += [(run.failed.stage, s) for s in run.failed.shortfalls]
    if listed:
        names = _stage_names(lang)
        frame = pd.DataFrame([
            {"stage": names.get(stage, stage), "where": where, "short_by": s.short_by, "unit": unit, "detail": detail}
            for stage, s in listed
            for where, unit, detail in [render_shortfall(s, lang)]
        ])
        sheets["未达成目标" if lang == "zh" else "targets not met"] = display_table(frame, lang)
    for renderer in STAGES:
        if renderer.tables is not None:
            sheets.update(renderer.tables(run, params))
    return sheets


_TEXT_XLSX: Mapping[str, tuple[str, str]] = {
    "part": ("部分", "Part"), "item": ("项目", "Item"), "content": ("内容", "Content"),
}
