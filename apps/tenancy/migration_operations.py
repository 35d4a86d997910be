"""Migration operations for apps whose tables exist in the public and every tenant schema."""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django_tenants.utils import get_public_schema_name


class PublicSchemaOnlyIndex(Operation):
    """Drops an index of the model state from every schema but the public one.

    For an index that only queries of the public schema use: each tenant schema would
    otherwise pay a relation for nothing. The model state keeps the index (the public
    schema has it), so a later migration that alters or removes it must do the same
    schema by schema."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, model_name: str, name: str) -> None:
        self.model_name = model_name
        self.name = name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "name": self.name},
        )

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _target(self, app_label: str, schema_editor: Any, state: ProjectState) -> Any:
        if getattr(schema_editor.connection, "schema_name", None) == get_public_schema_name():
            return None
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        model_state = state.models[app_label, self.model_name.lower()]
        return model, model_state.get_index_by_name(self.name)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        target = self._target(app_label, schema_editor, to_state)
        if target:
            schema_editor.remove_index(*target)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        target = self._target(app_label, schema_editor, to_state)
        if target:
            schema_editor.add_index(*target)

    def describe(self) -> str:
        return f"Drop index {self.name} on {self.model_name} outside the public schema"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name.lower()}_{self.name.lower()}_public_only"
