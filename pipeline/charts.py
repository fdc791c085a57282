"""Count tables → bar charts as PNG (for the docx) and text-as-text SVG (for the HTML), with a CJK font when the machine has one."""

from __future__ import annotations

import io
import logging
import re
import warnings
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.font_manager as fm  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

log = logging.getLogger(__name__)

# Families with Chinese glyphs, most preferred first.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC",
    "Hiragino Sans GB", "Heiti SC", "STHeiti", "SimHei", "Noto Serif CJK SC", "Source Han Serif SC",
    "SimSun", "Noto Sans CJK JP", "Noto Sans CJK TC", "Droid Sans Fallback", "AR PL UMing CN",
    "AR PL UKai CN",
)
CJK_FILE = re.compile(r"notosanscjk|notoserifcjk|notosanssc|sourcehan|wqy|wenquanyi|simhei|simsun|"
                      r"msyh|pingfang|hiragino|stheiti|droidsansfallback|uming|ukai", re.IGNORECASE)
# What the browser should try for SVG text (the HTML report is read on machines we do not know).
BROWSER_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
                 "WenQuanYi Micro Hei", "SimHei", "sans-serif"]
INSTALL_HINT = "Debian/Ubuntu: apt-get install fonts-noto-cjk (or fonts-wqy-microhei)"

KIND_COLOURS = {"problem": "#c8553d", "achievement": "#3a8d5c", "suggestion": "#3b6ea8",
                "other": "#b0b0b0"}
TOPIC_COLOURS = ["#3b6ea8", "#e09f3e", "#3a8d5c", "#c8553d", "#7d5ba6", "#2a9d8f", "#8c6d46",
                 "#d16ba5"]
OTHER_COLOUR = "#c9c9c9"


@lru_cache(maxsize=1)
def find_cjk_font(preferred: str = "") -> str | None:
    """The family name of an installed font with Chinese glyphs, or None.

    Looks in matplotlib's font cache first, then scans the system font folders (the cache may
    predate a font installed later) and registers what it finds.
    """
    names = {f.name for f in fm.fontManager.ttflist}
    for family in ((preferred,) if preferred else ()) + CJK_FAMILIES:
        if family and family in names:
            return family
    for path in sorted(fm.findSystemFonts()):
        if CJK_FILE.search(Path(path).name.replace("-", "").replace("_", "")):
            try:
                fm.fontManager.addfont(path)
                return fm.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def warn_missing_font() -> None:
    log.warning("no font with Chinese glyphs found: PNG chart labels fall back to ids and codes "
                "(the HTML charts are unaffected). Install one — %s", INSTALL_HINT)


def _style(font: str | None, svg: bool) -> dict:
    family = ([font] if font else []) + (BROWSER_FONTS if svg else []) + ["DejaVu Sans"]
    return {"font.family": "sans-serif", "font.sans-serif": list(dict.fromkeys(family)),
            "svg.fonttype": "none", "axes.spines.top": False, "axes.spines.right": False,
            "axes.unicode_minus": False, "font.size": 10}


def _render(draw, fmt: str, font: str | None, salt: str) -> bytes | str:
    with plt.rc_context({**_style(font, fmt == "svg"), "svg.hashsalt": salt}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from.*")
        warnings.filterwarnings("ignore", message=r".*findfont.*")
        fig = draw()
        buf = io.BytesIO() if fmt == "png" else io.StringIO()
        if fmt == "png":
            fig.savefig(buf, format="png", dpi=200, bbox_inches="tight", metadata={"Software": None})
        else:
            fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    return buf.getvalue() if fmt == "png" else inline_svg(buf.getvalue())


def inline_svg(svg: str) -> str:
    """A matplotlib SVG made fit to sit inside HTML: no XML prolog, DOCTYPE, metadata or
    namespace URLs, and scalable (viewBox kept, fixed size dropped)."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href=", "href=")
    svg = re.sub(r'(<svg[^>]*?)\s+width="[^"]*"\s+height="[^"]*"', r"\1", svg, count=1)
    svg = svg.replace("<svg ", '<svg role="img" ', 1)
    return svg.strip()


def _display_width(text: str) -> int:
    """Roughly how many Latin characters wide text is (a Chinese character counts two)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _label_colour(fill: str) -> str:
    """White on dark fills, near-black on light ones."""
    r, g, b = (int(fill.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 165 else "#333333"


def stacked_counts(table: pd.DataFrame, colours: list[str], fmt: str, font: str | None,
                   salt: str, xlabel: str, share: bool = False) -> bytes | str:
    """Horizontal stacked bars: one bar per row of table, one segment per column (in order).

    With share=True each row is scaled to 100 % and segments ≥ 8 % are labelled.
    """
    data = table.astype(float)
    if share:
        totals = data.sum(axis=1).replace(0, 1)
        data = data.div(totals, axis=0) * 100

    def draw():
        height = max(2.2, 0.42 * len(data) + 1.3)
        fig, ax = plt.subplots(figsize=(7.2, height))
        left = pd.Series(0.0, index=data.index)
        labels = [str(i) for i in data.index]
        for col, colour in zip(data.columns, colours):
            values = data[col]
            ax.barh(labels, values, left=left, color=colour, label=str(col), height=0.62,
                    edgecolor="white", linewidth=0.6)
            for y, (v, l) in enumerate(zip(values, left)):
                if (share and v >= 8) or (not share and v >= max(4.0, data.values.sum() * 0.012)):
                    ax.text(l + v / 2, y, f"{v:.0f}" + ("%" if share else ""), ha="center",
                            va="center", fontsize=8, color=_label_colour(colour))
            left = left + values
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        if share:
            ax.set_xlim(0, 100)
        ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
        ax.set_axisbelow(True)
        width = sum(_display_width(str(c)) + 6 for c in data.columns)
        ncol = len(data.columns) if width <= 96 else -(-len(data.columns) // 2)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(data) > 3 else -0.3),
                  ncol=ncol, frameon=False, fontsize=9)
        fig.tight_layout()
        return fig

    return _render(draw, fmt, font, salt)
