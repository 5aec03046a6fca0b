"""The charts of a run as HTML fragments (inline SVG and tables): ROC and PR curves overlaid
across models, the score-versus-cost fronts, and each model's confusion matrix, calibration,
residuals, search and top features.

Drawn from the leaderboard and the diagnostics the train steps stored (diagnostics.py), never
recomputed: report.html, the app's results view and each model's MLflow run show these same
fragments, so they cannot disagree.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bakeoff.measures import bounds
from bakeoff.svg import PALETTE, UNIT, Plot, axis, log_axis

if TYPE_CHECKING:
    from bakeoff.leaderboard import Leaderboard

Diagnostics = dict[str, dict[str, Any]]  # by diagnostic name (diagnostics.compute's)
e = html.escape


def _colors(models: Sequence[str]) -> dict[str, str]:
    """One color per model, the same in every chart of the page."""
    return {model: PALETTE[i % len(PALETTE)] for i, model in enumerate(models)}


def curves(models: Sequence[str], found: dict[str, Diagnostics], kind: str) -> str:
    """ROC (``kind="roc"``) or precision-recall (``"pr"``) curves of ``models``, overlaid: one
    chart for a binary task, one per class (against the rest) otherwise."""
    colors = _colors(models)
    panels: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for model in models:
        for curve in (found.get(model, {}).get(kind) or {}).get("curves", []):
            panels.setdefault(curve["label"], []).append((model, curve))
    charts = []
    for label, drawn in panels.items():
        if kind == "roc":
            plot = Plot(UNIT, UNIT, "false positive rate", "true positive rate", f"ROC · {label} vs rest"
                        if len(panels) > 1 else f"ROC · positive class {label}")
            plot.line([0, 1], [0, 1], "#8c959f", dash="4 4", width=1)
            for model, c in drawn:
                plot.line(c["fpr"], c["tpr"], colors[model], f"{model} (AUC {c['auc']:.3f})")
        else:
            plot = Plot(UNIT, UNIT, "recall", "precision", f"Precision-recall · {label} vs rest"
                        if len(panels) > 1 else f"Precision-recall · positive class {label}")
            plot.line([0, 1], [drawn[0][1]["base_rate"]] * 2, "#8c959f", dash="4 4", width=1)
            for model, c in drawn:
                plot.line(c["recall"], c["precision"], colors[model], f"{model} (AP {c['average_precision']:.3f})")
        charts.append(plot.render())
    return "".join(charts)


def front(board: Leaderboard, cost_name: str) -> str:
    """Test score with its interval against one cost (log scale); the front joined by a line, and
    the model worth shipping instead of the leader named under the chart."""
    found = board.fronts.get(cost_name)
    rows = [r for r in board.rows if r.primary is not None and found and getattr(r, found.cost) is not None]
    if not rows or found is None:
        return ""
    cost = found.cost
    scores = [v for r in rows for v in (r.primary, *(r.ci or ()))]
    plot = Plot(log_axis([getattr(r, cost) for r in rows]), axis(scores, bounds(board.primary)),
                f"{cost_name} cost, {found.unit} (log)",
                f"test {board.primary}", f"Test {board.primary} against {cost_name} cost", width=560)
    colors = _colors([r.model for r in board.rows])
    on = [r for m in found.models for r in rows if r.model == m]
    plot.line([getattr(r, cost) for r in on], [r.primary for r in on], "#8c959f", "front (nothing beats these "
              "on both)", dash="3 3", width=1.5)
    for r in rows:
        if r.ci:
            plot.whisker((getattr(r, cost), r.ci[0]), (getattr(r, cost), r.ci[1]), colors[r.model])
        plot.points([getattr(r, cost)], [r.primary], colors[r.model], radius=5, hollow=r.model not in found.models,
                    titles=[f"{r.model}: {r.primary:.4f} at {getattr(r, cost):.3g} {found.unit}"])
        plot.label(getattr(r, cost), r.primary, r.model)
    note = f"<p class=note>{e(found.note)}.</p>" if found.note else ""
    return f"<div>{plot.render()}{note}</div>"


def confusion(data: dict[str, Any]) -> str:
    """Counts as a table, rows the true class, shaded by each row's share."""
    counts = data["counts"]
    head = "".join(f"<th>{e(label)}</th>" for label in data["labels"])
    body = ""
    for label, row in zip(data["labels"], counts):
        total = sum(row) or 1
        body += f"<tr><th>{e(label)}</th>" + "".join(
            f'<td class="count" style="background:rgba(31,111,235,{0.85 * n / total:.2f})">{n}</td>' for n in row) + "</tr>"
    return (f'<table class="confusion"><caption>Confusion matrix (rows: true, columns: predicted)</caption>'
            f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>")


def calibration(data: dict[str, Any]) -> str:
    plot = Plot(UNIT, UNIT, f"mean predicted {data['of']}", "observed rate", "Calibration", width=340, height=280)
    plot.line([0, 1], [0, 1], "#8c959f", dash="4 4", width=1)
    plot.line(data["predicted"], data["observed"], PALETTE[0])
    plot.points(data["predicted"], data["observed"], PALETTE[0],
                titles=[f"{n} rows" for n in data["count"]])
    return plot.render()


def residuals(data: dict[str, Any]) -> str:
    both = data["actual"] + data["predicted"]
    scale = axis(both)
    shown = f"{len(data['actual'])} rows" if len(data["actual"]) == data["rows"] else \
        f"{len(data['actual'])} of {data['rows']} rows"
    scatter = Plot(scale, scale, "actual", "predicted", f"Predicted vs actual · {shown}", width=340, height=300)
    scatter.line([scale.low, scale.high], [scale.low, scale.high], "#8c959f", dash="4 4", width=1)
    scatter.points(data["actual"], data["predicted"], PALETTE[0], radius=2)
    edges, counts = data["histogram"]["edges"], data["histogram"]["counts"]
    hist = Plot(axis(edges), axis([0, *counts], (0, None)), "residual (predicted − actual)", "rows",
                f"Residuals (mean {data['mean']:.3g}, sd {data['std']:.3g})", width=340, height=300)
    hist.line(edges, [counts[0], *counts], PALETTE[0], step=True)
    return scatter.render() + hist.render()


def search(data: dict[str, Any], direction: str, metric: str) -> str:
    """The trials in order (pruned ones hollow), the best-so-far line, the chosen parameters and
    what mattered; and a plain sentence when most trials tied the winner."""
    trials = data["trials"]
    scored = [t for t in trials if t["score"] is not None]
    parts = []
    if scored:
        numbers = [t["number"] for t in trials]
        plot = Plot(axis(numbers), axis([t["score"] for t in scored] + [b for b in data["best_so_far"] if b is not None]),
                    "trial", f"validation {metric}", f"Search: {len(trials)} trials", width=420, height=280)
        line = [(t["number"], b) for t, b in zip(trials, data["best_so_far"]) if b is not None]
        plot.line([n for n, _ in line], [b for _, b in line], PALETTE[1], "best so far", step=True)
        done = [t for t in scored if t["state"] == "complete"]
        plot.points([t["number"] for t in done], [t["score"] for t in done], PALETTE[0], "trial",
                    titles=[json.dumps(t["params"]) for t in done])
        pruned = [t for t in scored if t["state"] != "complete"]
        if pruned:
            plot.points([t["number"] for t in pruned], [t["score"] for t in pruned], PALETTE[0], "pruned",
                        hollow=True)
        parts.append(plot.render())
    best = data.get("best") or {}
    facts = [f"chosen: <code>{e(json.dumps(best.get('params', {})))}</code>",
             f"{data['tied_with_best']} of {data['complete']} finished trials tied the best "
             f"({sum(t['state'] == 'pruned' for t in trials)} pruned)"]
    if data["importance"]:
        facts.append("what mattered (share of the score's spread each parameter explains alone): " + ", ".join(
            f"{e(k)} {v:.0%}" for k, v in data["importance"].items()))
    if data["nothing_to_choose"]:
        facts.append("<b>the search had nothing to choose between</b>: most trials scored the same, so the "
                     "chosen parameters are one of many equal ones; widen the space or use a harder metric")
    parts.append("<ul class=facts>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    return "".join(parts)


def features(data: dict[str, Any]) -> str:
    top = max(data["values"] or [1]) or 1
    rows = "".join(f'<tr><td class="text">{e(name)}</td><td><span class="bar" style="width:{100 * v / top:.0f}%">'
                   f"</span></td><td>{v:.3g}</td></tr>" for name, v in zip(data["features"], data["values"]))
    return (f'<table class="features"><caption>Top features ({e(data["kind"])})</caption>'
            f"<tbody>{rows}</tbody></table>")


CURVES = (("roc", "ROC curves"), ("pr", "Precision-recall curves"))


def model_section(model: str, estimator: str, found: Diagnostics, direction: str, metric: str) -> str:
    """Everything drawn for one model, in one block: its own ROC and PR curves first, so its
    MLflow run's charts.html shows what the report shows for it."""
    blocks = [drawn for kind, _ in CURVES if (drawn := curves([model], {model: found}, kind))]
    if "confusion" in found:
        blocks.append(confusion(found["confusion"]))
    if "calibration" in found:
        blocks.append(calibration(found["calibration"]))
    if "residuals" in found:
        blocks.append(residuals(found["residuals"]))
    if "features" in found:
        blocks.append(features(found["features"]))
    if "search" in found:
        blocks.append(f'<div class="search">{search(found["search"], direction, metric)}</div>')
    if not blocks:
        return ""
    return (f'<section class="model" id="model-{e(model)}"><h3>{e(model)} '
            f'<small>{e(estimator)}</small></h3><div class="blocks">{"".join(blocks)}</div></section>')


def across_models(board: Leaderboard, found: dict[str, Diagnostics]) -> list[tuple[str, str]]:
    """(heading, charts) of what compares the models: their curves overlaid, then the fronts."""
    models = [r.model for r in board.rows]
    parts = [(title, drawn) for kind, title in CURVES if (drawn := curves(models, found, kind))]
    fronts = "".join(front(board, name) for name in board.fronts)
    return parts + [("Score against cost", fronts)] if fronts else parts


def per_model(board: Leaderboard, found: dict[str, Diagnostics], model: str) -> str:
    """The section of one of the board's models (``model_section`` with the board's metric)."""
    row = next(r for r in board.rows if r.model == model)
    return model_section(row.model, row.estimator, found.get(model, {}), board.direction, board.primary)


def run_sections(board: Leaderboard, found: dict[str, Diagnostics]) -> str:
    """The run's charts below its leaderboard: across the models, then each model."""
    parts = [f'<h2>{title}</h2><div class="blocks">{drawn}</div>' for title, drawn in across_models(board, found)]
    models = "".join(per_model(board, found, r.model) for r in board.rows)
    if models:
        parts.append(f"<h2>Each model</h2>{models}")
    return "".join(parts)


def as_images(fragment: str) -> str:
    """The fragment with each inline ``<svg>`` turned into an ``<img>`` of a data: URI, for hosts
    that sanitize HTML with DOMPurify's HTML profile (Streamlit's ``st.html``), which drops inline
    SVG and keeps images: the same drawing, pixel for pixel."""
    import base64

    def image(match: re.Match[str]) -> str:
        svg = match.group(0)
        if "xmlns=" not in svg[:200]:
            svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
        size = re.search(r'max-width:(\d+)px|width="(\d+)"', svg)
        width = next((g for g in size.groups() if g), "100") if size else "100"
        label = re.search(r'aria-label="([^"]*)"', svg)
        data = base64.b64encode(svg.encode()).decode()
        return (f'<img class="chart" alt="{label.group(1) if label else ""}" '
                f'style="width:100%;max-width:{width}px;vertical-align:middle" src="data:image/svg+xml;base64,{data}">')

    return re.sub(r"<svg\b.*?</svg>", image, fragment, flags=re.S)


def page(title: str, body: str) -> str:
    """A self-contained HTML page around chart fragments (an MLflow run's charts.html)."""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2328;font-size:14px}}{STYLE}"
            f"</style></head><body>{body}</body></html>")


STYLE = """
.blocks{display:flex;flex-wrap:wrap;gap:1rem 2rem;align-items:flex-start}
.blocks>svg,.blocks>figure,.blocks>div,.blocks>img{flex:1 1 320px;max-width:560px;margin:0}
figure.plot>svg{width:100%} figcaption{font-size:12px} .key{margin-right:.8rem;white-space:nowrap}
.key svg,.key img{vertical-align:middle;margin-right:.25rem;width:18px}
table.confusion td.count{text-align:center;min-width:3rem} table.confusion caption,table.features caption{text-align:left;font-weight:600}
table.features td{padding:.1rem .4rem} .bar{display:inline-block;height:.7rem;background:#1f6feb;min-width:1px}
table.features td:nth-child(2){width:10rem}
ul.facts{margin:.3rem 0;padding-left:1.2rem;max-width:60rem} ul.facts code{overflow-wrap:anywhere}
section.model{border-top:1px solid #d0d7de;padding-top:.5rem} p.note{font-size:13px}
"""
