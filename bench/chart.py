"""docs/benchmarks.svg: seconds per method at 100k rows, as grouped horizontal bars.
Hand-written SVG, standard library only."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from report import headline_size

COLORS = {
    "floor": "#9aa0a6",
    "promptsync": "#1a73e8",
    "psycopg": "#e8710a",
    "Django": "#c5221f",
    "Django batched": "#ee675c",
}
GROUPS = (  # (case, [(method key, bar label, color)])
    ("every row differs (target empty)", [
        ("floor", "floor: pg_dump | psql", "floor"),
        ("ps_all", "promptsync sync", "promptsync"),
        ("psycopg_all", "psycopg executemany", "psycopg"),
        ("django_all", "Django ORM", "Django"),
        ("djbatch_all", "Django ORM, batched", "Django batched"),
    ]),
    ("every row differs (target holding other rows)", [
        ("floor", "floor (as above)", "floor"),
        ("ps_full", "promptsync sync", "promptsync"),
    ]),
    ("1% of rows differ", [
        ("floor", "floor (as above)", "floor"),
        ("ps_one", "promptsync sync", "promptsync"),
        ("psycopg_one", "psycopg executemany", "psycopg"),
        ("django_one", "Django ORM", "Django"),
        ("djbatch_one", "Django ORM, batched", "Django batched"),
    ]),
    ("nothing differs", [
        ("floor", "floor (as above)", "floor"),
        ("ps_none", "promptsync sync", "promptsync"),
    ]),
    ("verify (count + checksum)", [
        ("floor", "floor (as above)", "floor"),
        ("verify", "promptsync verify", "promptsync"),
        ("verify_fast", "promptsync verify --fast", "promptsync"),
    ]),
)  # fmt: skip

WIDTH = 960
LABEL_W = 210  # bar labels, right-aligned before the bars
BAR_X = LABEL_W + 20
BAR_W = 560  # the longest bar
BAR_H = 18
GAP = 6
GROUP_GAP = 34
TOP = 70
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


def nice_step(top: float) -> float:
    """The smallest round tick step that reaches `top` in at most 7 ticks."""
    magnitude = 10 ** math.floor(math.log10(top / 7))
    for m in (1, 2, 2.5, 5, 10):
        if math.ceil(top / (m * magnitude)) <= 7:
            return m * magnitude
    return 10 * magnitude


def render(results: list[dict], info: dict) -> str:
    result = headline_size(results)
    seconds = {k: m["seconds"] for k, m in result["methods"].items() if "seconds" in m}
    floor = seconds["floor"]
    step = nice_step(max(seconds.values()))
    top = step * math.ceil(max(seconds.values()) / step)
    scale = BAR_W / top

    def text(x: float, y: float, s: str, size: int = 13, anchor: str = "start", **kw) -> str:
        extra = "".join(f" {k.replace('_', '-')}='{v}'" for k, v in kw.items())
        return (
            f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' {FONT}"
            f"{extra}>{escape(s)}</text>"
        )

    parts: list[str] = []
    y = TOP
    for case, bars in GROUPS:
        parts.append(text(16, y + 14, case, size=14, font_weight="bold", fill="#202124"))
        y += 24
        for key, label, color in bars:
            if key not in seconds:
                continue
            s = seconds[key]
            w = max(s * scale, 1.5)
            parts.append(text(LABEL_W + 10, y + BAR_H - 5, label, anchor="end", fill="#3c4043"))
            parts.append(
                f"<rect x='{BAR_X}' y='{y}' width='{w:.1f}' height='{BAR_H}' "
                f"fill='{COLORS[color]}' rx='2'><title>{escape(label)}: {s:.2f} s</title></rect>"
            )
            note = f"{s:.2f} s" if key == "floor" else f"{s:.2f} s  ({s / floor:.2f}× floor)"
            parts.append(text(BAR_X + w + 6, y + BAR_H - 5, note, size=12, fill="#202124"))
            y += BAR_H + GAP
        y += GROUP_GAP - GAP
    axis_y = y - GROUP_GAP / 2
    grid: list[str] = []
    tick = 0.0
    while tick <= top + 1e-9:
        x = BAR_X + tick * scale
        grid.append(
            f"<line x1='{x:.1f}' y1='{TOP - 6}' x2='{x:.1f}' y2='{axis_y:.1f}' "
            "stroke='#dadce0' stroke-width='1'/>"
        )
        label = f"{tick:g}"
        grid.append(text(x, axis_y + 16, label, size=11, anchor="middle", fill="#5f6368"))
        tick += step
    grid.append(text(BAR_X + BAR_W / 2, axis_y + 34, "seconds (wall time, lower is better)",
                     size=12, anchor="middle", fill="#5f6368"))  # fmt: skip
    height = axis_y + 50
    title = (
        f"promptsync vs pg_dump | psql and the old Django way: {result['rows']:,} rows "
        f"({result['dump_bytes'] / 1e6:,.0f} MB dump)"
    )
    subtitle = (
        f"PostgreSQL {info['postgres']}, {info['cores']} cores ({info['cpu']}), "
        "each measured once after a warm-up; bench/run.py"
    )
    aria = escape(title, {"'": "&apos;"})
    return "\n".join(
        [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height:.0f}' "
            f"viewBox='0 0 {WIDTH} {height:.0f}' role='img' aria-label='{aria}'>",
            f"<rect width='{WIDTH}' height='{height:.0f}' fill='#ffffff'/>",
            text(16, 28, title, size=17, font_weight="bold", fill="#202124"),
            text(16, 48, subtitle, size=12, fill="#5f6368"),
            *grid,
            *parts,
            "</svg>",
            "",
        ]
    )
