# ruff: noqa: RUF001, RUF002  (Greek letters and math symbols are the point of this module)
"""LaTeX in titles and abstracts, made readable as plain Unicode for mail clients (which run no MathJax).

``$\\alpha$-stable`` becomes ``α-stable``, ``$O(n^2)$`` becomes ``O(n²)``; what is not understood is left as written
(minus the dollar signs), which is still readable. The result is text: templates escape it like any other.
"""

from __future__ import annotations

import re

SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "times": "×", "cdot": "·", "pm": "±",
    "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "simeq": "≃",
    "infty": "∞", "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "mapsto": "↦", "in": "∈",
    "notin": "∉", "subset": "⊂", "subseteq": "⊆", "cup": "∪", "cap": "∩", "forall": "∀", "exists": "∃",
    "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏", "int": "∫", "sqrt": "√", "ell": "ℓ", "hbar": "ħ",
    "log": "log", "exp": "exp", "ldots": "…", "cdots": "⋯", "dots": "…", "langle": "⟨", "rangle": "⟩",
    "mathbb{R}": "ℝ", "mathbb{N}": "ℕ", "mathbb{Z}": "ℤ", "mathbb{C}": "ℂ", "mathbb{E}": "𝔼", "%": "%", "&": "&",
}  # fmt: skip
SUPERSCRIPT = str.maketrans("0123456789+-=()nix", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣ")
SUBSCRIPT = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
COMMAND = re.compile(r"\\(mathbb\{[A-Z]\}|[A-Za-z]+|[%&])")
STYLE = re.compile(r"\\(?:mathbf|mathrm|mathcal|mathit|textbf|textit|text|operatorname|boldsymbol|emph)\{([^{}]*)\}")
SCRIPT = re.compile(r"([\^_])(\{([^{}]*)\}|(\w))")


def _script(match: re.Match[str]) -> str:
    body = match.group(3) if match.group(3) is not None else match.group(4)
    table = SUPERSCRIPT if match.group(1) == "^" else SUBSCRIPT
    converted = body.translate(table)
    if all(ch != orig or not orig.isalnum() for ch, orig in zip(converted, body, strict=True)):
        return converted
    return f"{match.group(1)}{body}" if len(body) == 1 else f"{match.group(1)}({body})"


def _math(body: str) -> str:
    body = STYLE.sub(r"\1", body)
    body = COMMAND.sub(lambda m: SYMBOLS.get(m.group(1), m.group(1)), body)
    body = SCRIPT.sub(_script, body)
    return body.replace("{", "").replace("}", "").replace("\\,", " ").replace("~", " ")


def readable(text: str) -> str:
    """Inline and display math converted; text outside math keeps its words, with ``\\%`` style escapes resolved."""
    if "$" not in text and "\\" not in text:
        return text
    converted = MATH.sub(lambda m: _math(m.group(1) or m.group(2)), text)
    return STYLE.sub(r"\1", converted).replace("\\%", "%").replace("\\&", "&").replace("\\_", "_")
