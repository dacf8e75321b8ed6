"""The card templates, package data read with ``importlib.resources`` (so an installed wheel renders them):
the dataset card ``dataset_card.md.j2`` (:mod:`videossr.build.card`) and the model card
``model_card.md.j2`` (:mod:`videossr.train.card`)."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

DATASET_CARD = "dataset_card.md.j2"
MODEL_CARD = "model_card.md.j2"


def template_source(name: str) -> str:
    """The text of the template ``name`` (``FileNotFoundError`` for a template this package lacks)."""
    resource = files(__name__).joinpath(name)
    if not name.endswith(".j2") or not resource.is_file():
        raise FileNotFoundError(f"no card template {name!r} in {__name__}")
    return resource.read_text(encoding="utf-8")


def environment() -> jinja2.Environment:
    """A Jinja environment over these templates; a value a template uses but is not given is an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(template_source),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **values: object) -> str:
    return environment().get_template(name).render(**values)
