"""Text similarity of alerts: TF-IDF cosine over alert name, summary, description and
log template, with document frequencies learned online (deterministic: the same
alerts in the same order give the same weights).

Entity names and numbers are dropped from the text so "checkout 5xx ratio 12%" and
"frontend 5xx ratio 30%" compare on the symptom, not on who has it.
"""

from __future__ import annotations

import math
import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z]+")
_STOP = frozenset(
    """a an the of on in at to for from by is are was be been has have had and or not no
with this that it its as than above below over under per within into out more less""".split()
)
TEXT_ANNOTATIONS = ("summary", "description", "message", "template", "title")


def alert_text(labels: dict[str, str], annotations: dict[str, str]) -> str:
    parts = [_CAMEL.sub(" ", labels.get("alertname", ""))]
    parts += [annotations.get(k, "") for k in TEXT_ANNOTATIONS]
    return " ".join(p for p in parts if p)


def tokens(text: str, drop: set[str] = frozenset()) -> list[str]:
    out = []
    for t in _TOKEN.findall(text):
        t = t.lower()
        if t not in _STOP and t not in drop:
            out.append(t)
    return out


class TfIdf:
    """Online TF-IDF: ``add`` counts a document; ``cosine`` uses the counts so far."""

    def __init__(self) -> None:
        self.df_: dict[str, int] = {}
        self.n_docs_ = 0

    def add(self, toks: list[str]) -> None:
        self.n_docs_ += 1
        for t in set(toks):
            self.df_[t] = self.df_.get(t, 0) + 1

    def vector(self, toks: list[str]) -> dict[str, float]:
        tf: dict[str, int] = {}
        for t in toks:
            tf[t] = tf.get(t, 0) + 1
        n = self.n_docs_ + 1
        vec = {t: c * (math.log(n / (1 + self.df_.get(t, 0))) + 1.0) for t, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}

    def cosine(self, a: list[str], b: list[str]) -> float:
        if not a or not b:
            return 0.0
        va, vb = self.vector(a), self.vector(b)
        if len(va) > len(vb):
            va, vb = vb, va
        return round(sum(v * vb.get(t, 0.0) for t, v in va.items()), 4)

    def state(self) -> dict:
        return {"df": self.df_, "n": self.n_docs_}

    def load(self, st: dict) -> None:
        self.df_ = dict(st.get("df", {}))
        self.n_docs_ = int(st.get("n", 0))
