"""Colour-blind-safe genre colours (Okabe & Ito 2008), as on the dashboard, shared by plot and page."""

from __future__ import annotations

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")


def genre_colours(labels: tuple[str, ...]) -> dict[str, str]:
    """One colour per label, stable by position, cycling past eight."""
    return {label: OKABE_ITO[i % len(OKABE_ITO)] for i, label in enumerate(labels)}
