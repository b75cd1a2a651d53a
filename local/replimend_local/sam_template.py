"""Reading template.yaml as data, for tests and benchmarks outside local mode: an alias of
:mod:`replimend_local.sam.template` (where the local runtime's template code lives)."""

from replimend_local.sam.template import REPO_ROOT, TEMPLATE_PATH, load_template, table_create_kwargs

__all__ = ["REPO_ROOT", "TEMPLATE_PATH", "load_template", "table_create_kwargs"]
