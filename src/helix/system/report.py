"""`helix report RUN_DIR`: an HTML page with PNG plots of a run (matplotlib, Agg backend).

Plots: loss curves per brain (train loss per logged step, validation loss per epoch), validation
exact match over epochs, gate results per epoch, and the final accuracy table per format
(from ``accuracy.json``, written by `helix launch` after training or by ``--evaluate``).
"""

from __future__ import annotations

import html
import io
from pathlib import Path

from helix.system.launcher import read_json
from helix.system.status import brain_names, human_duration, iter_metrics, read_run
from helix.util import atomic_write_bytes, atomic_write_text, utc_now_iso

BRAIN_COLORS = {"coordinator": "#2856c9", "ascii": "#d9480f", "runic": "#2b8a3e"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_png(fig, path: Path) -> None:
    """Lay the figure out, write it atomically as PNG and release it."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    _plt().close(fig)


def collect(run_dir: Path) -> dict:
    """Everything the report shows, read from the run's files."""
    brains = brain_names(run_dir)
    data: dict = {"run": str(run_dir), "brains": {}}
    for b in brains:
        train_pts, epochs = [], []
        for rec in iter_metrics(run_dir, b):
            if rec.get("kind") == "epoch":
                epochs.append(rec)
            elif rec.get("loss") is not None and rec.get("step") is not None:
                train_pts.append((rec["step"], rec["loss"]))
        summary = read_json(run_dir / b / "summary.json") or {}
        gates = summary.get("gates") or []
        if not gates:  # still training: the gate outcome per epoch is in the epoch records
            gates = [{"epoch": e["epoch"], "passed": e["gate_passed"]} for e in epochs if e.get("gate_passed") is not None]
        data["brains"][b] = {
            "train": sorted(train_pts),
            "epochs": sorted(epochs, key=lambda e: (e.get("epoch", 0), e.get("step", 0))),
            "gates": gates,
            "summary": summary,
            "status": read_json(run_dir / b / "status.json") or {},
        }
    data["accuracy"] = read_json(run_dir / "accuracy.json")
    data["summary"] = read_json(run_dir / "summary.json")
    return data


def plot_losses(data: dict, path: Path) -> bool:
    brains = [b for b, d in data["brains"].items() if d["train"] or d["epochs"]]
    if not brains:
        return False
    plt = _plt()
    fig, axes = plt.subplots(1, len(brains), figsize=(4.6 * len(brains), 3.6), squeeze=False)
    for ax, b in zip(axes[0], brains):
        d = data["brains"][b]
        c = BRAIN_COLORS.get(b, "#444")
        if d["train"]:
            xs, ys = zip(*d["train"])
            ax.plot(xs, ys, color=c, lw=1.2, alpha=0.85, label="train loss")
        ve = [(e["step"], e["val_loss"]) for e in d["epochs"] if e.get("val_loss") is not None]
        if ve:
            xs, ys = zip(*ve)
            ax.plot(xs, ys, "o--", color="#111", ms=4, lw=1, label="val loss (per epoch)")
        ax.set_title(f"{b} loss")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save_png(fig, path)
    return True


def plot_val_em(data: dict, path: Path) -> bool:
    series = {
        b: [(e["epoch"], e["val_exact_match"]) for e in d["epochs"] if e.get("val_exact_match") is not None]
        for b, d in data["brains"].items()
    }
    series = {b: s for b, s in series.items() if s}
    if not series:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for b, pts in series.items():
        xs, ys = zip(*pts)
        ax.plot(xs, [y * 100 for y in ys], "o-", color=BRAIN_COLORS.get(b, "#444"), label=b)
    ax.axhline(90, color="#999", ls=":", lw=1, label="90% target")
    ax.set_xlabel("epoch")
    ax.set_ylabel("val exact match (%)")
    ax.set_ylim(0, 102)
    ax.set_title("Validation exact match over epochs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save_png(fig, path)
    return True


def plot_gates(data: dict, path: Path) -> bool:
    rows = [(b, d["gates"]) for b, d in data["brains"].items() if d["gates"]]
    if not rows:
        return False
    plt = _plt()
    epochs = sorted({int(g["epoch"]) for _, gs in rows for g in gs})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(epochs) + 2.5), 0.8 * len(rows) + 1.4))
    for yi, (b, gs) in enumerate(rows):
        for g in gs:
            xi = epochs.index(int(g["epoch"]))
            ok = g.get("passed")
            color = "#2b8a3e" if ok else "#c92a2a"
            ax.add_patch(_plt().Rectangle((xi - 0.45, yi - 0.4), 0.9, 0.8, color=color, alpha=0.85))
            label = "pass" if ok else "fail"
            if "requests_passed" in g:
                label += f"\n{g['requests_passed']}/{g['requests_total']}"
            ax.text(xi, yi, label, ha="center", va="center", color="white", fontsize=8, fontweight="bold")
    ax.set_xlim(-0.6, len(epochs) - 0.4)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xticks(range(len(epochs)), [str(e) for e in epochs])
    ax.set_yticks(range(len(rows)), [b for b, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("epoch")
    ax.set_title("Quality gates per epoch (requests right / total)")
    _save_png(fig, path)
    return True


def plot_accuracy(data: dict, path: Path) -> bool:
    acc = data.get("accuracy") or {}
    rows = acc.get("rows") or []
    if not rows:
        return False
    plt = _plt()
    labels = [f"{r['brain']}\n{r['fmt']}" for r in rows]
    metrics = [("exact", "#2856c9"), ("semantic", "#2b8a3e"), ("validity", "#f08c00")]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(rows) + 2), 4.0))
    w = 0.27
    for k, (m, c) in enumerate(metrics):
        vals = [(r.get(m) if r.get(m) is not None else 0) * 100 for r in rows]
        ax.bar([i + (k - 1) * w for i in range(len(rows))], vals, w, label=m, color=c)
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of test records")
    ax.set_title(f"Test-split accuracy per brain and target format ({acc.get('split', 'test')})", pad=22)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.06), frameon=False)
    _save_png(fig, path)
    return True


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _table(headers: list[str], rows: list[list]) -> str:
    h = "".join(f"<th>{html.escape(str(x))}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def write_report(run_dir: str | Path) -> Path:
    """Write RUN_DIR/report.html and its PNGs; returns the HTML path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    data = collect(run_dir)
    if not data["brains"]:
        raise FileNotFoundError(f"{run_dir} holds no brain status files: not a helix run")
    imgs = []
    for name, fn, alt in (
        ("loss.png", plot_losses, "Loss curves per brain"),
        ("val_em.png", plot_val_em, "Validation exact match over epochs"),
        ("gates.png", plot_gates, "Gate results per epoch"),
        ("accuracy.png", plot_accuracy, "Final test accuracy per format"),
    ):
        if fn(data, run_dir / name):
            imgs.append((name, alt))

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Helix run {html.escape(run_dir.name)}</title>",
        "<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#1d2330}"
        "table{border-collapse:collapse;margin:8px 0 18px}td,th{border:1px solid #d9dde5;padding:4px 8px;text-align:right}"
        "th{background:#f1f3f7}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee;margin:6px 0 18px}"
        "h2{margin-top:28px}.muted{color:#6b7385}</style></head><body>",
        f"<h1>Helix run {html.escape(run_dir.name)}</h1>",
        f"<p class='muted'>{html.escape(str(run_dir.resolve()))} — report written {utc_now_iso()}</p>",
        "<h2>Brains</h2>",
    ]
    status_rows = []
    for s in read_run(run_dir):
        st, summ = s.status, data["brains"].get(s.brain, {}).get("summary", {})
        status_rows.append([
            s.brain, st.get("preset", "-"), st.get("status", "-"),
            f"{st.get('epoch', '-')}/{st.get('total_epochs', '-')}", st.get("step", "-"),
            "-" if st.get("val_loss") is None else f"{st['val_loss']:.4f}",
            _pct(summ.get("best_val_exact_match", st.get("val_exact_match"))),
            human_duration(summ.get("elapsed_s")) if summ.get("elapsed_s") is not None else "-",
            st.get("message") or "",
        ])
    parts.append(_table(["brain", "preset", "status", "epoch", "step", "val loss", "best val EM", "trained", "message"], status_rows))
    acc = data.get("accuracy")
    parts.append("<h2>Final accuracy on the test split</h2>")
    if acc and acc.get("rows"):
        parts.append(_table(
            ["brain", "target format", "n", "exact", "semantic", "validity"],
            [[r["brain"], r["fmt"], r.get("n", "-"), _pct(r.get("exact")), _pct(r.get("semantic")), _pct(r.get("validity"))]
             for r in acc["rows"]],
        ))
        extra = []
        if acc.get("route_accuracy") is not None:
            extra.append(f"coordinator route-tag accuracy {_pct(acc['route_accuracy'])} (n={acc.get('route_n', '-')})")
        if acc.get("check_agreement") is not None:
            extra.append(f"ASCII-vs-runic --check agreement {_pct(acc['check_agreement'])} (n={acc.get('check_n', '-')})")
        if extra:
            parts.append("<p>" + html.escape("; ".join(extra)) + "</p>")
    else:
        parts.append("<p class='muted'>No accuracy.json yet (written by `helix launch` after training, or `helix report --evaluate`).</p>")
    for name, alt in imgs:
        parts.append(f"<h2>{html.escape(alt)}</h2><img src='{name}' alt='{html.escape(alt)}'>")
    for b, d in data["brains"].items():
        detailed = [g for g in d["gates"] if g.get("requests")]
        if not detailed:
            continue
        last = detailed[-1]
        parts.append(f"<h2>Last gate of {html.escape(b)} (epoch {last['epoch']}: {'passed' if last.get('passed') else 'failed'})</h2>")
        parts.append(_table(
            ["request", "target", "expected", "got", "ok"],
            [[c["src"], c["tgt_fmt"], c["expected"], c["got"], "yes" if c["ok"] else "NO"] for c in last["requests"]],
        ))
    summ = data.get("summary") or {}
    if summ.get("gate_answers"):
        parts.append("<h2>Gate requests answered through <code>helix ask</code></h2>")
        parts.append(_table(
            ["request", "target", "answer", "validity", "route", "expected", "right"],
            [[g["text"], g["to"], g.get("answer") or "(no valid answer)", g.get("status", ""), g.get("expert", ""),
              g.get("expected", ""), "yes" if g.get("right") else "NO"] for g in summ["gate_answers"]],
        ))
    parts.append("</body></html>")
    out = run_dir / "report.html"
    atomic_write_text(out, "\n".join(parts))
    return out
