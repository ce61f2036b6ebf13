"""``schoolplan`` command line: demo, run, validate and one command per stage.

Exit codes: 0 when every stage made a plan, its shortfalls (policy targets met
only in part) printed after its summary and listed in ``<stage>/shortfalls.csv``;
2 for bad input, every problem listed (file, row or id, column, what is wrong)
with no traceback; 3 when a stage cannot make a plan (a ``strict`` stage at a
target it cannot meet), 4 for a real solver failure — in both cases the finished
stages, the maps, the report and the manifest are written and explain it.
Ctrl-C ends with 130 and one line; the output folder is then as it was.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
import types
import typing
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from geo.errors import InfeasibleError, InputError, Problem, Shortfall, SolverError
from geo.model import LAYERS
from geo.validate import InputNote
from planning.app import stages as registry
from planning.app.interrupt import EXIT_INTERRUPTED, NOTHING_WRITTEN, InterruptGuard
from planning.app.messages import Language, heading, problem_text, scenario_language, warning_zh
from planning.app.outdir import RunFolder
from planning.app.runner import RunSummary, run_scenario
from planning.app.scenario import load_scenario, scenario_from_dict
from planning.app.session import load_scenario_data, planned_files, validate_report_settings
from planning.app.settings import EXPORT_FORMATS, RESERVED, ExportSettings, Scenario, SolverSection, TopLevel, problems_from
from planning.app.stage import SHORTFALLS_FILE, Stage
from planning.app.writer import write_files

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_SOLVER = 4

logger = logging.getLogger("schoolplan")

_CRS_HELP = (
    "CRS of CSV/Excel layers and of spatial files that declare none (a file's own CRS wins): "
    "wgs84, cgcs2000, gcj02 (Amap/Tencent), bd09 (Baidu) or EPSG:n; not given, CSV/Excel coordinates are read as WGS84 with a warning"
)
_LAYER_CRS_HELP = "CRS of one layer, overriding its file's own (repeatable), e.g. --layer-crs blocks=gcj02 for a GeoJSON exported from Amap"


# --------------------------------------------------------------------------- output


def _console(stderr: bool = False) -> Any:
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class _Progress:
    """Spinner with the current step on a terminal; plain log lines otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.console = _console(stderr=True)
        self.status: Any = None
        self.t0 = time.perf_counter()

    def __enter__(self) -> _Progress:
        if not self.quiet and self.console.is_terminal:
            self.status = self.console.status("starting")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def step(self, text: str) -> None:
        elapsed = time.perf_counter() - self.t0
        if self.status is not None:
            self.status.update(f"[{elapsed:6.1f}s] {text}")
        elif not self.quiet:
            self.console.print(f"[{elapsed:6.1f}s] {text}", markup=False)


def _warning_line(message: Warning | str, category: type[Warning], language: Language = "en") -> Any:
    """A warning for the console: ``Note:`` for remarks that need no action (columns kept for the user's own use),
    else ``Warning:``; the message is shown as it is (no console markup), in Chinese where it has a translation."""
    from rich.text import Text  # noqa: PLC0415

    text = warning_zh(str(message)) if language == "zh" else str(message)
    if issubclass(category, InputNote):
        return Text.assemble(("说明：" if language == "zh" else "Note:", "cyan"), " ", text)
    return Text.assemble(("警告：" if language == "zh" else "Warning:", "yellow"), " ", text)


#: Shortfalls shown per stage on the console; the rest are in ``<stage>/shortfalls.csv``.
MAX_SHORTFALLS_SHOWN = 5


def _print_shortfalls(con: Any, where: str, shortfalls: Sequence[Shortfall], quiet: bool) -> None:
    """``N target(s) not met`` and the first few with their numbers (all of them in ``where``)."""
    if not shortfalls:
        return
    con.print(f"  [yellow]{len(shortfalls)} target(s) not met[/yellow] (all in {where}):")
    if quiet:
        return
    for s in shortfalls[:MAX_SHORTFALLS_SHOWN]:
        con.print(f"    - {s}", markup=False)
    if len(shortfalls) > MAX_SHORTFALLS_SHOWN:
        con.print(f"    … and {len(shortfalls) - MAX_SHORTFALLS_SHOWN} more", markup=False)


def _print_written(summary: RunSummary, quiet: bool, *, flat: bool = False) -> None:
    """Each stage's summary and shortfalls, the files written, and where to open the map and report."""
    con = _console()
    out_dir = summary.out_dir
    for name, output in summary.run.outputs.items():
        if not (output.shortfalls or (output.summary and not quiet)):
            continue
        con.print(f"[bold]{name}[/bold]")
        if not quiet:
            for line in output.summary.splitlines():
                con.print(f"  {line}", markup=False)
        where = SHORTFALLS_FILE if flat else f"{name}/{SHORTFALLS_FILE}"
        _print_shortfalls(con, where, output.shortfalls, quiet)
    written = summary.written
    con.print(f"Wrote {len(written)} files to {out_dir}/", markup=False)
    if not quiet:
        for p in written:
            con.print(f"  {p.relative_to(out_dir)}", markup=False)
    for key in ("report.html", "map.html"):
        p = out_dir / key
        if p in written:
            con.print(f"Open {p} in a browser (works offline).", markup=False)


def _exit_code(summary: RunSummary) -> int:
    """0 when every stage finished; else the failure explained on stderr, and 3 (infeasible) or 4 (solver)."""
    failed = summary.failed
    if failed is None:
        return EXIT_OK
    con = _console(stderr=True)
    finished = ", ".join(summary.run.outputs) or "none"
    if failed.kind == "solver":
        con.print(f"[bold red]Solver failed[/bold red] in stage {failed.stage}:")
    else:
        con.print(f"[bold red]No feasible plan[/bold red] in stage {failed.stage}:")
    con.print(str(failed), markup=False)
    con.print(f"Finished stages written ({finished}); the report and manifest.json explain the failure.", markup=False)
    return EXIT_SOLVER if failed.kind == "solver" else EXIT_INFEASIBLE


# --------------------------------------------------------------------------- commands


def _cmd_validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    validate_report_settings(scenario)
    data = load_scenario_data(scenario)
    inputs = data.inputs
    con = _console()
    con.print(f"{args.scenario}: valid.", markup=False)
    counts = {layer: 0 if (frame := getattr(inputs, layer)) is None else len(frame) for layer in LAYERS}
    con.print(
        "  " + ", ".join(f"{layer} {n}" for layer, n in counts.items()) + f"; stages: {', '.join(scenario.stages) or 'none'}",
        markup=False,
    )
    for (path, layer), table in data.tables.items():
        con.print(f"  {layer} {path}: {len(table)} rows", markup=False)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    scenario = _with_solver_overrides(scenario, args)
    if args.exports is not None:
        scenario = dataclasses.replace(scenario, exports=args.exports)
    if args.strict:
        scenario = scenario.strict()
    out_dir = Path(args.out) if args.out else Path("out") / Path(args.scenario).stem
    with _Progress(args.quiet) as prog:
        summary = run_scenario(scenario, out_dir, step=prog.step, render=not args.no_report)
    _print_written(summary, args.quiet)
    return _exit_code(summary)


def _with_solver_overrides(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The scenario with ``--seed``, ``--time-limit`` and ``--workers`` applied (validated like the file)."""
    if args.seed is not None:
        scenario = dataclasses.replace(scenario, seed=args.seed)
    update = {k: v for k, v in (("time_limit_s", args.time_limit), ("workers", args.workers)) if v is not None}
    if not update:
        return scenario
    try:
        solver = SolverSection.model_validate({**scenario.solver.model_dump(), **update})
    except ValidationError as err:
        raise InputError(problems_from(err, "command line", prefix="solver")) from err
    return dataclasses.replace(scenario, solver=solver)


#: The demo's candidate sites for new schools (``geo.demo``), named by the layout stage's ``candidates``.
DEMO_CANDIDATES = "candidate_sites.csv"


def _demo_file(layer: str) -> str:
    """File name of a demo input layer: CSV for tables, GeoPackage for the others."""
    return f"{layer}.csv" if LAYERS[layer].geometry == "none" else f"{layer}.gpkg"


def demo_scenario_dict(seed: int, time_limit_s: float, workers: int, *, strict: bool = False) -> dict[str, Any]:
    """The demo's scenario file: every input layer, every registered stage enabled with its defaults (``strict`` on each
    when asked), and every export file (``[report] exports``)."""
    data: dict[str, Any] = {
        "name": "demo",
        "seed": seed,
        "inputs": {**{layer: _demo_file(layer) for layer in LAYERS}, "crs": "wgs84"},
        "solver": {"time_limit_s": time_limit_s, "workers": workers},
        "report": {"exports": list(EXPORT_FORMATS)},
    }
    for name, stage in registry.STAGES.items():
        if name not in RESERVED:
            data[name] = {"enabled": True, **stage.demo, **({"strict": True} if strict else {})}
    return data


def demo_inputs(
    *, county: str, scale: float, seed: int, solver: SolverSection, strict: bool = False
) -> tuple[Any, dict[str, Any]]:
    """Generate the demo county: ``(county, file name → payload)`` of its input layers and ``scenario.toml``.

    Raises
    ------
    InputError
        Unknown county or a scale out of range.
    """
    import tomli_w  # noqa: PLC0415

    from geo.demo import build_demo  # noqa: PLC0415 - only for the demo

    demo = build_demo(county, scale=scale, seed=seed)
    layers = {layer: getattr(demo.inputs, layer) for layer in LAYERS}
    files: dict[str, Any] = {_demo_file(layer): frame for layer, frame in layers.items() if frame is not None}
    scenario_dict = demo_scenario_dict(seed, solver.time_limit_s, solver.workers, strict=strict)
    scenario_dict["name"] = f"demo {demo.name} ({demo.code})"
    if demo.births and "projection" in scenario_dict:  # the demo county's births series (geo.demo.county_births)
        scenario_dict["projection"]["births"] = {str(y): float(v) for y, v in sorted(demo.births.items())}
        scenario_dict["projection"]["births_basis"] = "assumption"  # derived from China's births, not the county's figures
    if demo.candidate_sites is not None and len(demo.candidate_sites) and "layout" in scenario_dict:  # where to build (geo.demo)
        files[DEMO_CANDIDATES] = demo.candidate_sites
        scenario_dict["layout"]["candidates"] = DEMO_CANDIDATES
    files["scenario.toml"] = tomli_w.dumps(scenario_dict)
    return demo, files


def write_demo_inputs(
    out_dir: Path, *, county: str, scale: float, seed: int, solver: SolverSection, strict: bool = False
) -> tuple[Any, Path]:
    """Generate the demo county and write its inputs and scenario under ``out_dir/inputs/``.

    For tests and scripts: ``run_scenario(load_scenario(path), out_dir)`` then plans it (``schoolplan
    demo`` writes the inputs into the run's temporary folder instead, moved in with the outputs).

    Returns
    -------
    tuple[geo.demo.DemoCounty, Path]
        The generated county and the path of its ``scenario.toml``.

    Raises
    ------
    InputError
        Unknown county or a scale out of range.
    """
    demo, files = demo_inputs(county=county, scale=scale, seed=seed, solver=solver, strict=strict)
    write_files(out_dir / "inputs", files)
    return demo, out_dir / "inputs" / "scenario.toml"


def _demo_planned(args: argparse.Namespace, solver: SolverSection) -> list[str]:
    """Every file the demo may write: its inputs and what a run of its scenario writes."""
    scenario = scenario_from_dict(demo_scenario_dict(args.seed, solver.time_limit_s, solver.workers, strict=args.strict))
    inputs = [f"inputs/{_demo_file(layer)}" for layer in LAYERS]
    return [*inputs, f"inputs/{DEMO_CANDIDATES}", "inputs/scenario.toml", *planned_files(scenario)]


def _cmd_demo(args: argparse.Namespace) -> int:
    from geo.boundaries import list_counties  # noqa: PLC0415 - only for the demo

    if args.list_counties:
        table = list_counties()
        con = _console()
        for row in table.itertuples(index=False):
            con.print(f"{row.code}  {row.name}", markup=False)
        return EXIT_OK
    out_dir = Path(args.out)
    t0 = time.perf_counter()
    try:
        solver = SolverSection(time_limit_s=args.time_limit, workers=args.workers)
    except ValidationError as err:
        raise InputError(problems_from(err, "command line", prefix="solver")) from err
    # the output folder is checked and locked first; the inputs go into its temporary folder with the outputs
    with RunFolder(out_dir, planned=_demo_planned(args, solver)) as folder, _Progress(args.quiet) as prog:
        prog.step(f"generating the demo county ({args.county}, scale {args.scale:g}, seed {args.seed}) and writing its inputs")
        demo, files = demo_inputs(county=args.county, scale=args.scale, seed=args.seed, solver=solver, strict=args.strict)
        folder.write({f"inputs/{name}": payload for name, payload in files.items()}, keep=True)
        scenario = load_scenario(folder.staging / "inputs" / "scenario.toml")
        summary = run_scenario(scenario, folder, step=prog.step, render=not args.no_report)
    path = out_dir / "inputs" / "scenario.toml"
    con = _console()
    con.print(f"Demo county {demo.name} ({demo.code}), seed {args.seed}, scale {args.scale:g}:", markup=False)
    con.print("  " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in demo.stats.items()))
    con.print(f"  inputs written to {path.parent}/ (edit them and run: schoolplan run {path})")
    _print_written(summary, args.quiet)
    con.print(f"Finished in {time.perf_counter() - t0:.1f} s.", markup=False)
    return _exit_code(summary)


def _cmd_template(args: argparse.Namespace) -> int:
    from planning.app.template import SCENARIO, WORKBOOK, template_files  # noqa: PLC0415

    out_dir = Path(args.out)
    files = template_files()
    taken = [name for name in files if (out_dir / name).exists()]
    if taken and not args.force:
        raise InputError(
            [Problem(str(out_dir / name), "already exists; choose another --out folder or add --force to overwrite") for name in taken]
        )
    write_files(out_dir, files)
    con = _console()
    con.print(f"Wrote {out_dir / WORKBOOK} (sheets 说明, 学校, 居住区, 教师, 道路说明) and {out_dir / SCENARIO}.", markup=False)
    con.print(f"Fill in the sheets, then: schoolplan validate {out_dir / SCENARIO} and schoolplan run {out_dir / SCENARIO}", markup=False)
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    from planning.app.sweep import DemoMaker  # noqa: PLC0415 - Dask and the summary only for sweeps
    from planning.app.sweep_cli import sweep_command  # noqa: PLC0415

    return sweep_command(args, demo=DemoMaker(scenario=demo_scenario_dict, inputs=demo_inputs), console=_console())


# --------------------------------------------------------------------------- parser


def _checked(model: type[BaseModel], field: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type: the text as ``kind``, within the bounds of ``model.field`` (as in a scenario file)."""
    info = model.model_fields[field]
    adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, Annotated[(info.annotation, *info.metadata)]))
    nouns: dict[Any, str] = {int: "a whole number", float: "a number"}
    noun = nouns.get(kind, kind.__name__)

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {noun}, got {text!r}") from None
        try:
            return adapter.validate_python(value)
        except ValidationError as err:
            msg = err.errors()[0]["msg"].replace("Input should be", "must be")
            raise argparse.ArgumentTypeError(f"{msg}, got {text}") from None

    convert.__name__ = kind.__name__
    return convert


def _exports(text: str) -> tuple[str, ...]:
    """``--exports``: formats separated by commas (as ``[report] exports``), or ``none``."""
    names = [] if text.strip().lower() == "none" else [n.strip() for n in text.split(",") if n.strip()]
    try:
        return ExportSettings.model_validate({"exports": names}).exports
    except ValidationError:
        unknown = ", ".join(n for n in names if n not in EXPORT_FORMATS)
        raise argparse.ArgumentTypeError(f"unknown format {unknown}; valid: {', '.join(EXPORT_FORMATS)} or none") from None


def _scale(text: str) -> float:
    """``--scale``: a number in (0, MAX_SCALE]."""
    from geo.demo import MAX_SCALE  # noqa: PLC0415 - only for the demo

    try:
        scale = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < scale <= MAX_SCALE:  # False for NaN too
        raise argparse.ArgumentTypeError(f"must be a number in (0, {MAX_SCALE:g}], got {text}")
    return scale


_SEED = _checked(TopLevel, "seed", int)
_TIME_LIMIT = _checked(SolverSection, "time_limit_s", float)
_WORKERS = _checked(SolverSection, "workers", int)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for solver logs)")
    p.add_argument("-q", "--quiet", action="store_true", help="only print where the outputs are")
    p.add_argument(
        "--lang", choices=("zh", "en"), default=None,
        help="language of input error messages: zh (中文) or en (default: the scenario's [report] language, else en)",
    )


def _add_strict(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strict", action="store_true",
        help="every stage stops (exit 3) at a policy target it cannot meet, instead of listing the shortfall",
    )


def _add_solver(p: argparse.ArgumentParser) -> None:
    p.add_argument("--time-limit", type=_TIME_LIMIT, default=None, metavar="S", help="solver time limit per model, seconds")
    p.add_argument("--workers", type=_WORKERS, default=None, metavar="N", help="solver threads (default 2)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: demo, run and validate, and one command per stage that declares one."""
    parser = argparse.ArgumentParser(
        prog="schoolplan",
        description=(
            "Plan compulsory-education resources of a Chinese county: catchment zones (划片招生), "
            "school communities (集团化办学), teacher rotation (交流轮岗), balance indicators (均衡) and offline maps."
        ),
        epilog=(
            "Exit codes: 0 every stage made a plan (targets it could not meet are listed as shortfalls); "
            "2 bad input (every problem listed); 3 a stage could not make a plan (a strict stage at a target it "
            "cannot meet): the finished stages, the map and the report are written and explain it; "
            "4 a solver failure (written likewise)."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="build the demo county (清涧县) and run every stage on it", description=(
        "Generate a synthetic county inside a real county outline (default 清涧县, 610830) from a fixed seed, "
        "write its inputs under OUT/inputs/ and run every stage, writing maps, report and tables to OUT/."
    ))
    p.add_argument("--county", default="610830", help="county code or name from the installed outlines (default 610830 清涧县)")
    p.add_argument("--scale", type=_scale, default=1.0, help="multiply villages, schools and teachers (benchmarks use 50-100)")
    p.add_argument("--seed", type=_SEED, default=20260901, help="random seed (default 20260901)")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--time-limit", type=_TIME_LIMIT, default=20.0, metavar="S", help="solver time limit per model (default 20)")
    p.add_argument("--workers", type=_WORKERS, default=2, metavar="N", help="solver threads (default 2)")
    p.add_argument("--no-report", action="store_true", help="skip maps and report")
    _add_strict(p)
    p.add_argument("--list-counties", action="store_true", help="list the counties available and exit")
    _add_common(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("run", help="run a scenario file", description="Run the stages a scenario TOML enables and write their outputs.")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument(
        "--out", default=None, metavar="DIR",
        help="output folder (default: out/<file name of the scenario without .toml>, e.g. out/county for county.toml)",
    )
    p.add_argument("--seed", type=_SEED, default=None, help="override the scenario's seed")
    p.add_argument("--no-report", action="store_true", help="skip maps and report")
    p.add_argument(
        "--exports", type=_exports, default=None, metavar="LIST",
        help=f"export files to write under OUT/exports/, separated by commas, overriding [report] exports: "
        f"{', '.join(EXPORT_FORMATS)}, or none",
    )
    _add_strict(p)
    _add_solver(p)
    _add_common(p)
    p.set_defaults(func=_cmd_run)

    _add_template_and_sweep(sub)

    p = sub.add_parser("validate", help="check a scenario and its inputs without running", description=(
        "Load a scenario and every input layer and report all problems at once."
    ))
    p.add_argument("scenario", help="scenario TOML file")
    _add_common(p)
    p.set_defaults(func=_cmd_validate)

    for command, stage in stage_commands().items():
        _add_stage_command(sub, command, stage)
    return parser


def _add_template_and_sweep(sub: Any) -> None:
    """The ``template`` and ``sweep`` commands: they take no scenario and no stage flags."""
    p = sub.add_parser("template", help="write an Excel input template (学校, 居住区, 教师) and a scenario that reads it", description=(
        "Write OUT/schoolplan-inputs.xlsx, a workbook to fill in: sheets 学校 (schools), 居住区 (blocks: 小区, 村), "
        "教师 (teachers) with Chinese headers, drop-down lists for coded columns and one example row, an instructions "
        "sheet 说明 and 道路说明 (roads come from a GeoPackage, Shapefile or .osm.pbf); and OUT/scenario.toml, which "
        "reads the workbook with GCJ-02 coordinates (Amap) and runs every stage. "
        "The example loads as written: schoolplan validate OUT/scenario.toml."
    ))
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the workbook and scenario.toml into (created if missing)")
    p.add_argument("--force", action="store_true", help="overwrite the two files if they exist")
    _add_common(p)
    p.set_defaults(func=_cmd_template)

    p = sub.add_parser("sweep", help="run many counties or scenario variants at once, on Dask", description=(
        "Run every run a sweep file names (built-in demo counties, scenario files, and a [grid] of scenario keys), each an "
        "ordinary scenario run written to OUT/runs/<run id>/, on a local Dask cluster or an existing one; then "
        "OUT/summary.csv and OUT/summary.html. Runs already complete in OUT are skipped (resume)."
    ))
    p.add_argument("sweep", help="sweep file (TOML)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: runs/<run id>/ and the summary")
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="address of a running Dask scheduler, e.g. tcp://host:8786 (default: a local cluster)"
    )
    p.add_argument("--workers", type=_WORKERS, default=None, metavar="N", help="worker processes of the local cluster (default: one per core)")
    _add_common(p)
    p.set_defaults(func=_cmd_sweep)


def stage_commands() -> dict[str, Stage]:
    """Command name → stage, for every registered stage with a command (in run order)."""
    return {stage.command.name: stage for stage in registry.STAGES.values() if stage.command is not None}


_METAVARS: dict[Any, str] = {int: "N", float: "X", str: "TEXT", Path: "FILE"}


def _field_kind(annotation: Any) -> tuple[str, Any]:
    """(kind, detail) of a parameter annotation for argparse: scalar type, literal choices, list, bool."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _field_kind(args[0])
    if annotation is bool:
        return "bool", None
    if origin is typing.Literal:
        return "choice", [str(a) for a in typing.get_args(annotation)]
    if origin in (list, tuple) and args:
        inner_kind, inner = _field_kind(args[0])
        if inner_kind in ("scalar", "choice"):
            return "list", (inner_kind, inner)
        return "skip", None
    if annotation in (int, float, str) or annotation is Path:
        return "scalar", annotation
    return "skip", None


def _add_stage_command(sub: Any, command: str, stage: Stage) -> None:
    """``schoolplan <command>``: input layer flags, output and solver flags, one flag per scalar parameter."""
    assert stage.command is not None
    help_text = stage.command.help
    p = sub.add_parser(
        command,
        help=help_text,
        description=f"{stage.description or help_text}. Writes its tables to --out. "
        "Settings not shown here (tables, mappings) are set in a scenario file (schoolplan run).",
    )
    layers = p.add_argument_group("input layers (GeoPackage, GeoJSON, Shapefile, CSV or Excel)")
    for layer in LAYERS:
        need = layer in stage.needs
        layers.add_argument(f"--{layer}", required=need, metavar="FILE", help=f"{layer} layer{' (required)' if need else ''}")
    layers.add_argument("--crs", default=None, help=_CRS_HELP)
    layers.add_argument("--layer-crs", action="append", default=[], metavar="LAYER=CRS", help=_LAYER_CRS_HELP)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=_SEED, default=0, help="random seed (default 0)")
    _add_solver(p)
    group = p.add_argument_group(f"{stage.name} parameters (defaults as in a scenario's [{stage.name}] table)")
    for flag, param in stage.command.aliases.items():
        kind, detail = _field_kind(stage.params.model_fields[param].annotation)
        choices = detail[1] if kind == "list" and detail[0] == "choice" else None
        same = "--" + param.replace("_", "-")
        doc = f"short for {same} with one value, e.g. {flag} {choices[0]}" if kind == "list" and choices else f"the same as {same}"
        metavar = None if choices else _METAVARS.get(detail if kind == "scalar" else None, "VALUE")
        group.add_argument(flag, dest=f"alias__{param}", default=None, choices=choices, help=doc, metavar=metavar)
    for name, field in stage.params.model_fields.items():
        if name != "enabled":
            _add_parameter_flag(group, name, field)
    _add_common(p)
    p.set_defaults(func=_cmd_stage, stage=stage.name)


def _add_parameter_flag(group: Any, name: str, field: Any) -> None:
    """The flag of one parameter (``--max-moved``), by its kind; mappings and nested tables get none."""
    kind, detail = _field_kind(field.annotation)
    flag = "--" + name.replace("_", "-")
    default = field.get_default(call_default_factory=True)
    doc = field.description or name.replace("_", " ")
    if "default" not in doc:  # a description that explains its default says it better
        doc += f" (default: {_default_text(default)})"
    dest = f"param__{name}"
    if kind == "bool":
        group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=doc)
    elif kind == "choice":
        group.add_argument(flag, dest=dest, choices=detail, default=None, help=doc)
    elif kind == "scalar":
        conv = str if detail is Path else detail
        group.add_argument(flag, dest=dest, type=conv, default=None, help=doc, metavar=_METAVARS.get(detail, "VALUE"))
    elif kind == "list":
        inner_kind, inner = detail
        kwargs: dict[str, Any] = (
            {"choices": inner} if inner_kind == "choice" else {"type": inner, "metavar": _METAVARS.get(inner, "VALUE")}
        )
        group.add_argument(flag, dest=dest, nargs="+", default=None, help=doc, **kwargs)


def _default_text(default: Any) -> str:
    """A parameter's default as ``--help`` shows it: on/off, not set, or as typed on the command line."""
    if default is None:
        return "not set"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, list | tuple):  # as it is typed on the command line: --sending-area-types urban town
        return " ".join(map(str, default)) or "none"
    return f"{default:g}" if isinstance(default, float) else str(default)


def _stage_params(args: argparse.Namespace, stage: Stage) -> dict[str, Any]:
    """The parameters given as flags: ``--name`` flags as they are, an alias of a list parameter as a one-value list."""
    params: dict[str, Any] = {}
    for key, value in vars(args).items():
        if value is None:
            continue
        if key.startswith("param__"):
            params[key.removeprefix("param__")] = value
        elif key.startswith("alias__"):
            param = key.removeprefix("alias__")
            kind, _ = _field_kind(stage.params.model_fields[param].annotation)
            params[param] = [value] if kind == "list" else value
    return params


def _layer_crs(values: Sequence[str]) -> dict[str, str]:
    """``--layer-crs LAYER=CRS`` flags as the scenario's ``layer_crs`` mapping (layers and CRSs checked on loading)."""
    out: dict[str, str] = {}
    bad = [v for v in values if "=" not in v or not v.split("=", 1)[0].strip() or not v.split("=", 1)[1].strip()]
    if bad:
        raise InputError(
            [Problem("command line", f"{v!r}: expected LAYER=CRS, e.g. blocks=gcj02", column="--layer-crs") for v in bad]
        )
    for value in values:
        layer, crs = value.split("=", 1)
        out[layer.strip()] = crs.strip()
    return out


def _cmd_stage(args: argparse.Namespace) -> int:
    stage = registry.STAGES[args.stage]
    assert stage.command is not None
    inputs = {layer: getattr(args, layer) for layer in LAYERS if getattr(args, layer, None)}
    solver = {k: v for k, v in (("time_limit_s", args.time_limit), ("workers", args.workers)) if v is not None}
    crs = {"crs": args.crs} if args.crs is not None else {}
    data = {
        "name": stage.command.name,
        "seed": args.seed,
        "inputs": {**inputs, **crs, "layer_crs": _layer_crs(args.layer_crs)},
        stage.name: _stage_params(args, stage),
    }
    if solver:
        data["solver"] = solver
    scenario = scenario_from_dict(data, base_dir=Path.cwd(), source="command line")
    out_dir = Path(args.out)
    with _Progress(args.quiet) as prog:
        summary = run_scenario(scenario, out_dir, flat=True, render=False, step=prog.step)
    _print_written(summary, args.quiet, flat=True)
    return _exit_code(summary)


def _report_input_error(err: InputError, language: Language = "en") -> None:
    con = _console(stderr=True)
    label = "错误：" if language == "zh" else "Error:"
    con.print(f"[bold red]{label}[/bold red] {heading(len(err.problems), language)}")
    for p in err.problems:
        con.print(f"  - {problem_text(p, language)}", markup=False)


def _language(args: argparse.Namespace) -> Language:
    """The language of input messages: ``--lang``, else the scenario's ``[report] language``, else English."""
    given = getattr(args, "lang", None)
    if given is not None:
        return cast(Language, given)
    return scenario_language(getattr(args, "scenario", None)) or "en"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``schoolplan`` console script (through :mod:`planning.app.console`)."""
    err_console = _console(stderr=True)
    with InterruptGuard(lambda note: err_console.print(f"Interrupted (Ctrl-C): {note}.", markup=False)) as guard:
        try:
            return _main(argv)
        except KeyboardInterrupt as err:  # the run folder was left as it was (or, see the note, written whole)
            return guard.stopped(str(err) or NOTHING_WRITTEN)


class OncePerRun(logging.Filter):
    """Lets each warning through once: the same message from the same logger is not printed again.

    A stage builds a travel matrix per level and purpose, and each says which
    blocks lie far from a road: on the demo county 150223 the same two lines
    were printed nine times. Messages below WARNING are always let through.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 1)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(OncePerRun())
    if args.verbose < 2:
        logging.getLogger("ortools").setLevel(logging.WARNING)
    warn_console = _console(stderr=True)

    language = _language(args)

    def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        warn_console.print(_warning_line(message, category, language))

    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        _report_input_error(err, language)
        return EXIT_INPUT
    except InfeasibleError as err:
        con = _console(stderr=True)
        con.print("[bold red]No feasible plan:[/bold red]")
        con.print(str(err), markup=False)
        return EXIT_INFEASIBLE
    except SolverError as err:
        _console(stderr=True).print(f"Solver failed: {err}", markup=False)
        return EXIT_SOLVER


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["EXIT_INTERRUPTED", "Problem", "build_parser", "main"]
