"""The merchant's template language: Jinja2 in its sandbox, with a fixed set of variables.

Merchants write ``{{ first_name }}``, ``{% if pickup_point %}…{% endif %}``, filters such as
``upper`` or ``default``. The sandbox refuses attribute tricks; ``range`` and the other
globals are removed so a template cannot loop on its own; unknown variables are refused
when the template is saved (:func:`check_template`), never discovered at send time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from plugin.errors import RelaisError

MAX_TEMPLATE_CHARS = 5000
MAX_OUTPUT_CHARS = 20000

# What a template may use (the same names for every milestone and channel).
VARIABLES = frozenset(
    {
        "shop_name",
        "first_name",
        "order_name",
        "carrier",
        "tracking_number",
        "tracking_url",
        "wallet_url",
        "estimated_delivery",
        "pickup_point",
        "items",
        "item_count",
        "offer",
        # forwards and acknowledgements
        "sender",
        "channel_label",
        "shopper_message",
    }
)


class TemplateRefused(RelaisError):
    """A template that cannot be saved, with every reason found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=False,
    )
    # No loops of the template's own making, no helpers beyond filters.
    for name in ("range", "lipsum", "dict", "cycler", "joiner", "namespace"):
        env.globals.pop(name, None)
    return env


_HTML = _environment(autoescape=True)
_TEXT = _environment(autoescape=False)


@lru_cache(maxsize=2048)
def compile_template(source: str, *, html: bool) -> Template:
    """Compile once per source (cached); raises :class:`TemplateRefused` on a syntax error."""
    env = _HTML if html else _TEXT
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused([f"line {exc.lineno}: {exc.message}"]) from None


def render_template(source: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Render ``source`` with ``context``; raises :class:`TemplateRefused` if it cannot."""
    template = compile_template(source, html=html)
    try:
        output = template.render(**context)
    except UndefinedError as exc:
        raise TemplateRefused([f"unknown value: {exc.message}"]) from None
    except SecurityError as exc:
        raise TemplateRefused([f"not allowed: {exc}"]) from None
    except TemplateError as exc:
        raise TemplateRefused([f"cannot render: {exc}"]) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, LookupError) as exc:
        raise TemplateRefused([f"cannot render: {type(exc).__name__}: {exc}"]) from None
    if len(output) > MAX_OUTPUT_CHARS:
        raise TemplateRefused([f"renders to more than {MAX_OUTPUT_CHARS} characters"])
    return output


def check_template(source: str, samples: Sequence[Mapping[str, Any]], *, html: bool) -> list[str]:
    """Every reason to refuse ``source``; empty when it can be saved.

    It must parse, use only known variables, and render with each sample context (a full
    order and a sparse one, so both branches of an ``{% if %}`` are tried).
    """
    if not source.strip():
        return ["the template is empty"]
    if len(source) > MAX_TEMPLATE_CHARS:
        return [f"the template is longer than {MAX_TEMPLATE_CHARS} characters"]
    env = _HTML if html else _TEXT
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.message}"]
    errors = [
        f"unknown variable: {name}"
        for name in sorted(meta.find_undeclared_variables(ast) - VARIABLES)
    ]
    if errors:
        return errors
    for sample in samples:
        try:
            render_template(source, sample, html=html)
        except TemplateRefused as exc:
            errors.extend(e for e in exc.errors if e not in errors)
    return errors
