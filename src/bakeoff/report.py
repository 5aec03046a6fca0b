"""Render a Leaderboard: a rich table for the terminal, Markdown, and a self-contained HTML page.

The HTML has no scripts and no external assets, so it renders the same in a browser, in a KFP
Visualizations tab and attached to an e-mail.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bakeoff import figures
from bakeoff.measures import bounds
from bakeoff.svg import Dot, axis, dot_whisker

if TYPE_CHECKING:
    from bakeoff.leaderboard import Leaderboard, Row


def _fmt(value: float | None, decimals: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.{decimals}f}"


def _ci(row: Row) -> str:
    return f"{_fmt(row.ci[0])}–{_fmt(row.ci[1])}" if row.ci else "–"


def _signed(value: float) -> str:
    """A difference with its sign, the minus a real one (U+2212): "−0.008", "+0.008"."""
    return f"{value:+.3f}".replace("-", "−")


def _diff(row: Row) -> str:
    if row.rank == 1:
        return "leader"
    return f"{_signed(row.vs_leader[0])} to {_signed(row.vs_leader[1])}" if row.vs_leader else "–"


def _rank(row: Row) -> str:
    """The rank, with a badge when the leader cannot be told apart from this model: ranks of tied
    models are an order of point estimates, not of models."""
    if row.rank is None:
        return "–"
    return f"{row.rank} tied" if row.tied else str(row.rank)


def _notes(row: Row) -> str:
    if row.status != "ok":
        return f"{row.status}: {row.error or ''}"
    notes = ["cached"] if row.cached else []
    if row.overfit:
        notes.append("overfit?")
    return "; ".join(notes) or "ok"


def _arrow(board: Leaderboard) -> str:
    return "↑" if board.direction == "max" else "↓"


def columns(board: Leaderboard) -> list[tuple[str, Any]]:
    """(header, cell function) for every column, shared by every view: terminal, Markdown, HTML
    and the app."""
    cells: list[tuple[str, Any]] = [("#", _rank), ("model", lambda r: r.model)]
    across_runs = any(r.run_id for r in board.rows)
    if across_runs:
        cells.append(("run", lambda r: r.run_id or ""))
    if not across_runs:
        cells.append(("estimator", lambda r: r.estimator))
    if across_runs:  # only what differs between the rows, so the reason for a difference shows
        cells.append(("differs", lambda r: ", ".join(f"{k}={v}" for k, v in r.params.items())))
    cells += [(f"{board.primary} {_arrow(board)}", lambda r: _fmt(r.primary)), ("95% CI", _ci),
              ("vs leader", _diff)]
    if not across_runs:
        cells += [(m, lambda r, m=m: _fmt(r.test.get(m))) for m in board.metrics[1:]]
        cells += [("fit s", lambda r: _fmt(r.fit_seconds, 2)),
                  ("predict ms/1k rows", lambda r: _fmt(r.predict_ms_per_1k, 1)),
                  ("preprocessing", lambda r: r.preprocessing or "–")]
    cells.append(("notes", _notes))
    return cells


CAPTION = ("test split · 95% bootstrap CIs · 'vs leader': the 95% CI of (this model − the leader), both "
           "scored on the same resampled test rows · 'tied' beside a rank: that CI contains 0, so the "
           "test split cannot tell this model from the leader · overfit?: validation beats the whole "
           "test CI · fit s: the fit alone (a search: all its trials), without process start-up")


def failures(board: Leaderboard) -> list[str]:
    """One line per model without a score, with its reason: the banner every view shows above
    the board, so a failure is read, not found in the last column."""
    return [f"{r.model} ({r.estimator}) {r.status}: {r.error or 'no reason recorded'}"
            for r in board.rows if r.status != "ok"]


def front_notes(board: Leaderboard) -> list[str]:
    """The cheaper model worth shipping instead of the leader, per cost, when there is one."""
    return [front.note for front in board.fronts.values() if front.note]


def banner(board: Leaderboard) -> str | None:
    lines = failures(board)
    return f"{len(lines)} model(s) did not finish: " + "; ".join(lines) if lines else None

# What a narrow terminal gives up, leftmost first; "*" stands for every column not named (the
# secondary metrics, anything new), rightmost of them first. Never dropped: the rank, the model,
# the run, the primary metric and the notes, so no board hides who won or who failed.
DROPPED_FIRST = ("predict ms/1k rows", "differs", "estimator", "*", "fit s", "vs leader", "95% CI")
KEPT = ("#", "model", "run", "notes")
PROSE = ("notes", "differs")  # wrap between words; every other cell stays whole on one line
FOLD = 10  # a word of prose longer than this may fold rather than cost a column


@dataclass(frozen=True)
class Layout:
    """The columns a terminal of some width shows, each column's width, and what was left out."""

    cells: list[tuple[str, Any]]
    widths: list[int]
    boxed: bool  # a box costs 3 characters a column; without it, 2
    dropped: list[str]


def _drop_rank(header: str, board: Leaderboard) -> int | None:
    """When ``header`` goes as the width shrinks (lower: sooner), or None: never."""
    if header in KEPT or header.startswith(f"{board.primary} "):
        return None
    return DROPPED_FIRST.index(header if header in DROPPED_FIRST else "*")


def _overhead(columns: int, boxed: bool) -> int:
    return 3 * columns + 1 if boxed else 2 * columns - 2


def layout(board: Leaderboard, width: int) -> Layout:
    """Fit the board into ``width`` characters without cutting a number or a model name: every
    cell is as wide as its longest value (a header wraps between words), and the lowest-priority
    columns are dropped, then the box, before anything would be shortened. Pure, so the width test
    can check every width."""
    from rich.cells import cell_len

    all_cells = columns(board)
    values = {h: [cell(r) for r in board.rows] for h, cell in all_cells}

    def least(header: str) -> int:
        words = [w for v in values[header] for w in v.split()] if header in PROSE else values[header]
        need = max((cell_len(w) for w in words), default=1)
        head = max((cell_len(w) for w in header.split()), default=1)
        return max(head, min(need, FOLD) if header in PROSE else need)

    def natural(header: str) -> int:
        return max([cell_len(header), *map(cell_len, values[header])])

    kept = list(all_cells)
    boxed = True
    ranks = {h: _drop_rank(h, board) for h, _ in all_cells}
    position = {h: i for i, (h, _) in enumerate(all_cells)}  # of equals, the rightmost goes first
    order = sorted((h for h, r in ranks.items() if r is not None), key=lambda h: (ranks[h], -position[h]))
    while sum(least(h) for h, _ in kept) + _overhead(len(kept), boxed) > width:
        if order:
            gone = order.pop(0)
            kept = [(h, c) for h, c in kept if h != gone]
        elif boxed:
            boxed = False
        else:
            break  # narrower than a model name: the notes fold, the rest as rich can
    widths = [least(h) for h, _ in kept]
    spare = width - sum(widths) - _overhead(len(kept), boxed)
    for prose in (False, True):  # room left goes to unwrapping headers first, then the prose
        for i, (header, _) in enumerate(kept):
            if (header in PROSE) == prose:
                grow = min(max(spare, 0), natural(header) - widths[i])
                widths[i] += grow
                spare -= grow
    notes = kept.index(next(c for c in kept if c[0] == "notes"))
    if spare < 0:  # narrower than the model names allow: the notes fold
        widths[notes] = max(1, widths[notes] + spare)
    shown = {h for h, _ in kept}
    return Layout(kept, widths, boxed, [h for h, _ in all_cells if h not in shown])


def rich_table(board: Leaderboard, width: int) -> Any:
    """The board as a rich Table at most ``width`` characters wide (see ``layout``)."""
    from rich import box
    from rich.table import Table

    fitted = layout(board, width)
    caption = CAPTION
    if fitted.dropped:
        across_runs = any(r.run_id for r in board.rows)
        wide = "bakeoff compare RUN... --wide" if across_runs else f"bakeoff report {board.run_id} --wide"
        caption += f" · not shown at this width: {', '.join(fitted.dropped)} (a wider terminal, or `{wide}`, shows them)"
    table = Table(title=f"{board.experiment} · run {board.run_id} · {board.task}",
                  caption="\n".join([caption, *board.data_notes, *front_notes(board), *filter(None, [banner(board)])]),
                  box=box.HEAVY_HEAD if fitted.boxed else None, pad_edge=fitted.boxed)
    for (header, _), w in zip(fitted.cells, fitted.widths):
        table.add_column(header, justify="left" if header in ("model", "estimator", *PROSE) else "right",
                         width=w, overflow="fold" if header in PROSE else "ellipsis")
    for r in board.rows:
        table.add_row(*(cell(r) for _, cell in fitted.cells),
                      style="red" if r.status != "ok" else "bold" if r.rank == 1 else None)
    return table


def to_markdown(board: Leaderboard) -> str:
    cells = columns(board)
    lines = [
        f"# {board.experiment} — run `{board.run_id}`",
        "",
        f"Task: {board.task}. Ranked by test **{board.primary}** {_arrow(board)}. {CAPTION[0].upper()}{CAPTION[1:]}.",
        "",
        *(f"- Data: {note}." for note in board.data_notes),
        *(f"- **Did not finish**: {line}" for line in failures(board)),
        *(f"- **Cheaper**: {note}." for note in front_notes(board)),
        *([""] if board.data_notes or failures(board) or front_notes(board) else []),
        "| " + " | ".join(h for h, _ in cells) + " |",
        "|" + "|".join("---" if h in ("model", "estimator", "notes") else "---:" for h, _ in cells) + "|",
    ]
    lines += ["| " + " | ".join(cell(r).replace("|", "\\|") for _, cell in cells) + " |" for r in board.rows]
    return "\n".join(lines) + "\n"


def score_chart(board: Leaderboard) -> str:
    """Each model's test score as a dot with its interval as a whisker, one line a model in the
    board's order (``svg.dot_whisker``); the leader blue, a tie with it named beside the model.
    The report and the app show this same SVG."""
    rows = [r for r in board.rows if r.primary is not None]
    if not rows:
        return "<p>No model produced a score.</p>"
    scale = axis([v for r in rows for v in (r.primary, *(r.ci or ()))], bounds(board.primary))
    dots = [Dot(f"{r.model} ({_rank(r)})" if r.tied else r.model, r.primary, r.ci,
                "#1f6feb" if r.rank == 1 else "#30363d", f"{r.model}: {_fmt(r.primary)} {_ci(r)}") for r in rows]
    return dot_whisker(dots, scale, f"test {board.primary} (95% CI)", f"Test {board.primary} by model")


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;padding:0 1rem;max-width:1400px;color:#1f2328;font-size:14px}
.board{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px}
th,td{padding:.3rem .45rem;border-bottom:1px solid #d0d7de;text-align:right;vertical-align:top}
th{text-align:left;font-weight:600}
td.text{text-align:left} td.prose{text-align:left;min-width:7rem;overflow-wrap:anywhere}
td.model,th.model{position:sticky;left:0;background:#fff;text-align:left;font-weight:600}
td.rank,td.num{white-space:nowrap}
tr.failed,tr.missing{color:#cf222e} .badge{background:#dafbe1;color:#1a7f37;border-radius:.6rem;padding:0 .4rem}
.banner{background:#fff1e5;border-left:4px solid #bc4c00;padding:.5rem .8rem}
svg text{fill:#1f2328;font-family:system-ui,sans-serif}
"""
TEXT_COLUMNS = ("model", "estimator", "run")


def _breakable(text: str) -> str:
    """Escaped, with places a browser may break a long name: after an underscore and between the
    words of a CamelCase name (balanced_<wbr>accuracy, Hist<wbr>Gradient<wbr>Boosting…), so a
    board with many columns fits 1,200 px instead of scrolling."""
    return re.sub(r"(_)|(?<=[a-z])(?=[A-Z])", lambda m: (m.group(1) or "") + "<wbr>", html.escape(text))


def _cell(header: str, cell: Any, row: Row) -> str:
    """One table cell, its class saying how it lays out: the model pinned, prose wrapping; "vs
    leader" may wrap at its "to"."""
    if header == "#" and row.tied:
        return f'<td class="rank">{row.rank} <span class="badge" title="tied with the leader">tied</span></td>'
    kind = "model" if header == "model" else "text" if header in TEXT_COLUMNS else \
        "prose" if header in (*PROSE, "preprocessing") else "rank" if header == "#" else \
        "range" if header == "vs leader" else "num"
    return f'<td class="{kind}">{_breakable(cell(row))}</td>'


def to_html(board: Leaderboard, found: dict[str, figures.Diagnostics] | None = None) -> str:
    """The whole page; with ``found`` (each model's stored diagnostics, by model name) the charts
    below the board too."""
    e = html.escape
    cells = columns(board)
    head = "".join(f'<th{" class=model" if h == "model" else ""}>{_breakable(h)}</th>' for h, _ in cells)
    body = "".join(f'<tr class="{e(r.status)}{" tied" if r.tied else ""}">'
                   + "".join(_cell(h, cell, r) for h, cell in cells) + "</tr>"
                   for r in board.rows)
    failed = failures(board)
    banner_html = ("<div class=banner><b>" + f"{len(failed)} model(s) did not finish</b><ul>"
                   + "".join(f"<li>{e(line)}</li>" for line in failed) + "</ul></div>") if failed else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{e(board.experiment)} · bakeoff</title>
<style>{STYLE}{figures.STYLE}</style></head><body>
<h1>{e(board.experiment)}</h1>
<p>Run <code>{e(board.run_id)}</code> · task {e(board.task)} · ranked by test <b>{e(board.primary)}</b>
{_arrow(board)}. {e(CAPTION)}.</p>
{"".join(f"<p>Data: {e(note)}.</p>" for note in board.data_notes)}
{banner_html}
<h2>Test {e(board.primary)}</h2>
{score_chart(board)}
<h2>Leaderboard</h2>
<div class="board"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>
{figures.run_sections(board, found or {})}
</body></html>
"""
