"""Render a Leaderboard: a rich table for the terminal, Markdown, and a self-contained HTML page.

The HTML has no scripts and no external assets, so it renders the same in a browser, in a KFP
Visualizations tab and attached to an e-mail.
"""

from __future__ import annotations

import html
import math
from typing import Any

from bakeoff.leaderboard import Leaderboard, Row


def _fmt(value: float | None, decimals: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.{decimals}f}"


def _ci(row: Row) -> str:
    return f"{_fmt(row.ci[0])}–{_fmt(row.ci[1])}" if row.ci else "–"


def _status(row: Row) -> str:
    if row.status == "ok":
        return "cached" if row.cached else "ok"
    return f"{row.status}: {row.error or ''}"


def _arrow(board: Leaderboard) -> str:
    return "↑" if board.direction == "max" else "↓"


# Below this width the estimator and secondary metric columns are left out, so that what is
# left (rank, model, primary metric, interval, status) stays readable in an 80-column terminal.
WIDE = 110


def rich_table(board: Leaderboard, width: int = WIDE) -> Any:
    from rich.table import Table

    wide = width >= WIDE
    extra = board.metrics[1:] if wide else []
    table = Table(title=f"{board.experiment} · run {board.run_id} · {board.task}",
                  caption=f"test split · ranked by {board.primary} {_arrow(board)} · CI: 95% bootstrap")
    table.add_column("#", justify="right")
    table.add_column("model", style="bold", no_wrap=True)
    if wide:
        table.add_column("estimator")
    table.add_column(f"{board.primary} {_arrow(board)}", justify="right", style="bold")
    table.add_column("95% CI", justify="right", no_wrap=True)
    for name in extra:
        table.add_column(name, justify="right")
    table.add_column("fit s", justify="right")
    table.add_column("status", overflow="fold")
    for r in board.rows:
        table.add_row(str(r.rank or "–"), r.model, *([r.estimator] if wide else []), _fmt(r.primary), _ci(r),
                      *(_fmt(r.test.get(m)) for m in extra),
                      _fmt(r.fit_seconds, 2), _status(r), style=None if r.status == "ok" else "red")
    return table


def to_markdown(board: Leaderboard) -> str:
    head = ["#", "model", "estimator", board.primary, "95% CI", *board.metrics[1:], "fit s", "status"]
    lines = [
        f"# {board.experiment} — run `{board.run_id}`",
        "",
        f"Task: {board.task}. Ranked by test **{board.primary}** {_arrow(board)}; "
        "intervals are 95% bootstrap confidence intervals on the test split.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if h in ("model", "estimator", "status") else "---:" for h in head) + "|",
    ]
    for r in board.rows:
        cells = [str(r.rank or "–"), r.model, r.estimator, _fmt(r.primary), _ci(r),
                 *(_fmt(r.test.get(m)) for m in board.metrics[1:]), _fmt(r.fit_seconds, 2),
                 _status(r).replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _chart(board: Leaderboard) -> str:
    """Horizontal dot-and-whisker SVG of the primary metric with its interval, one line a model."""
    rows = [r for r in board.rows if r.primary is not None]
    if not rows:
        return "<p>No model produced a score.</p>"
    values = [v for r in rows for v in (r.primary, *(r.ci or ()))]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    left, width, line = 170, 460, 28
    height = line * len(rows) + 40

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * width

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
             f'role="img" aria-label="test {html.escape(board.primary)} by model">']
    for i, r in enumerate(rows):
        y = 20 + i * line
        name = html.escape(r.model)
        parts.append(f'<text x="{left - 10}" y="{y + 4}" text-anchor="end" font-size="13">{name}</text>')
        if r.ci:
            parts.append(f'<line x1="{x(r.ci[0]):.1f}" x2="{x(r.ci[1]):.1f}" y1="{y}" y2="{y}" '
                         'stroke="#7a8ca3" stroke-width="2"/>')
        color = "#1f6feb" if r.rank == 1 else "#30363d"
        parts.append(f'<circle cx="{x(r.primary):.1f}" cy="{y}" r="5" fill="{color}">'
                     f'<title>{name}: {_fmt(r.primary)} {_ci(r)}</title></circle>')
    axis_y = height - 12
    parts.append(f'<text x="{left}" y="{axis_y}" font-size="11">{_fmt(lo)}</text>')
    parts.append(f'<text x="{left + width}" y="{axis_y}" font-size="11" text-anchor="end">{_fmt(hi)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(board: Leaderboard) -> str:
    e = html.escape
    columns = ["#", "model", "estimator", board.primary, "95% CI", *board.metrics[1:], "fit s", "status"]
    head = "".join(f"<th>{e(h)}</th>" for h in columns)
    body = "".join(
        f'<tr class="{e(r.status)}"><td>{r.rank or "–"}</td><td>{e(r.model)}</td><td>{e(r.estimator)}</td>'
        f"<td><b>{_fmt(r.primary)}</b></td><td>{_ci(r)}</td>"
        + "".join(f"<td>{_fmt(r.test.get(m))}</td>" for m in board.metrics[1:])
        + f"<td>{_fmt(r.fit_seconds, 2)}</td><td>{e(_status(r))}</td></tr>"
        for r in board.rows
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(board.experiment)} · bakeoff</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}
table{{border-collapse:collapse}} th,td{{padding:.3rem .7rem;border-bottom:1px solid #d0d7de;text-align:right}}
td:nth-child(2),td:nth-child(3),td:last-child,th{{text-align:left}}
tr.failed,tr.missing{{color:#cf222e}}
</style></head><body>
<h1>{e(board.experiment)}</h1>
<p>Run <code>{e(board.run_id)}</code> · task {e(board.task)} · ranked by test <b>{e(board.primary)}</b>
{_arrow(board)} · bars are 95% bootstrap confidence intervals on the test split.</p>
<h2>Test {e(board.primary)}</h2>
{_chart(board)}
<h2>Leaderboard</h2>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
</body></html>
"""
